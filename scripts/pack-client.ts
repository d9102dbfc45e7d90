/**
 * Builds the client package, @banger/client: the SDK (createClient, typed from the OpenAPI
 * contract) and the `banger` CLI without the daemon, for the machines that drive banger (CI
 * runners, laptops) rather than host it. It depends on undici, commander and tar only, not on
 * the daemon's native modules.
 *
 *   npm run build && node dist/scripts/pack-client.js [OUT_DIR]
 *
 * Compiles client/ and bin/ with declarations into OUT_DIR/package (default dist-client/), writes
 * its package.json, then `npm pack`s it; prints the tarball's path.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { projectRoot } from '../server/project-root.js';

/** What the client's code imports at run time; their versions come from the root package.json. */
const RUNTIME_DEPENDENCIES = ['undici', 'commander', 'tar'];

export function packClient(outDir: string): string {
  const root = projectRoot;
  const out = resolve(outDir);
  const packageDir = join(out, 'package');
  rmSync(out, { recursive: true, force: true });
  mkdirSync(packageDir, { recursive: true });

  const rootPackage = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as {
    version: string;
    license: string;
    engines: Record<string, string>;
    dependencies: Record<string, string>;
  };
  const tsconfig = join(out, 'tsconfig.json');
  writeFileSync(
    tsconfig,
    JSON.stringify({
      extends: join(root, 'tsconfig.json'),
      compilerOptions: { rootDir: root, outDir: packageDir, declaration: true, sourceMap: false, typeRoots: [join(root, 'node_modules', '@types')] },
      include: [join(root, 'bin', 'banger.ts'), join(root, 'client', '**', '*.ts')],
    }),
  );
  execFileSync(process.execPath, [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', tsconfig], { stdio: 'inherit' });

  const dependencies = Object.fromEntries(
    RUNTIME_DEPENDENCIES.map((name) => {
      const version = rootPackage.dependencies[name];
      if (version === undefined) throw new Error(`${name} is not a dependency of the root package`);
      return [name, version];
    }),
  );
  writeFileSync(
    join(packageDir, 'package.json'),
    `${JSON.stringify(
      {
        name: '@banger/client',
        version: rootPackage.version,
        description: 'Client SDK and CLI for banger, a microVM manager: create VMs, run commands in them, copy files, throw them away',
        license: rootPackage.license,
        type: 'module',
        engines: rootPackage.engines,
        exports: { '.': { types: './client/index.d.ts', import: './client/index.js' } },
        types: './client/index.d.ts',
        bin: { banger: './bin/banger.js' },
        files: ['bin', 'client', 'README.md'],
        dependencies,
      },
      null,
      2,
    )}\n`,
  );
  writeFileSync(
    join(packageDir, 'README.md'),
    '# @banger/client\n\nThe SDK and CLI of [banger](https://github.com/), without the daemon.\n\n' +
      '```ts\nimport { createClient } from \'@banger/client\';\nconst banger = createClient({ socketPath: \'/var/lib/banger/banger.sock\' });\n' +
      'for await (const event of banger.exec(\'web\', { command: [\'uname\', \'-a\'] })) console.log(event);\n```\n\n' +
      '`banger run --image IMAGE -- COMMAND` runs one command in a fresh VM; `banger --help` lists the rest. Over TCP: `--url http://host:7070 --token …` (or BANGER_URL, BANGER_TOKEN).\n',
  );
  const tarball = execFileSync('npm', ['pack', '--silent', '--pack-destination', out], { cwd: packageDir, encoding: 'utf8' }).trim().split('\n').at(-1);
  if (!tarball) throw new Error('npm pack printed no file name');
  return join(out, tarball);
}

if (import.meta.url === `file://${process.argv[1]}`) {
  console.log(packClient(process.argv[2] ?? join(projectRoot, 'dist-client')));
}

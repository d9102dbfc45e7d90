// The client package as someone outside this repository gets it: scripts/pack-client.ts packs
// @banger/client, it is installed into a fresh project, a TypeScript program using it is
// compiled there with tsc against the package's own declarations and run against a real daemon,
// and the package's `banger` CLI talks to that daemon too, without the daemon's code.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { packClient } from '../../scripts/pack-client.js';
import { makeTempDir, repoRoot, startDaemon } from '../helpers/daemon.js';
import { makeExt4Image, makeKernelFile } from '../helpers/ext4.js';

t.setTimeout(10 * 60_000);

const work = await makeTempDir(t, 'banger-client-package-');
const tarball = packClient(join(work, 'pack'));
const project = join(work, 'project');
execFileSync('mkdir', ['-p', project]);
writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'uses-banger', private: true, type: 'module' }));
// --prefer-offline: the dependencies are the repository's own, already in npm's cache after npm ci.
execFileSync('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', '--loglevel=error', tarball], { cwd: project, stdio: 'pipe' });

t.test('the package holds the SDK and the CLI, not the daemon', async (t) => {
  const installed = join(project, 'node_modules', '@banger', 'client');
  t.ok(existsSync(join(installed, 'client', 'index.d.ts')), 'declarations for TypeScript users');
  t.notOk(existsSync(join(installed, 'server')), 'no daemon code');
  const tree = spawnSync('npm', ['ls', '--all', '--parseable'], { cwd: project, encoding: 'utf8' }).stdout;
  for (const heavy of ['fastify', 'better-sqlite3', 'ssh2']) t.notMatch(tree, new RegExp(`/node_modules/${heavy}$`, 'm'), `no ${heavy}`);
});

t.test('a TypeScript program compiled against the package drives a real daemon', async (t) => {
  const daemon = await startDaemon(t);
  const files = await makeTempDir(t, 'banger-client-package-files-');
  const rootfs = makeExt4Image(join(files, 'rootfs.ext4'), '32M');
  const kernel = makeKernelFile(files);
  writeFileSync(
    join(project, 'main.ts'),
    `import { createClient, ProblemError, type Image } from '@banger/client';

const banger = createClient({ socketPath: process.env.BANGER_SOCKET as string });
const health = await banger.health();
const registered = await banger.registerImage({ name: 'from-sdk', rootfsPath: process.argv[2] as string, kernelPath: process.argv[3] as string });
const image: Image = registered.image;
const listed = await banger.listImages();
let missing = '';
try {
  await banger.getVm('no-such-vm');
} catch (error) {
  if (error instanceof ProblemError) missing = error.problem.code;
}
await banger.deleteImage(image.id);
console.log(JSON.stringify({ health: health.status, created: registered.created, names: listed.items.map((item) => item.name), missing, left: (await banger.listImages()).items.length }));
await banger.close();
`,
  );
  writeFileSync(
    join(project, 'tsconfig.json'),
    JSON.stringify({
      compilerOptions: {
        target: 'ES2022', module: 'NodeNext', moduleResolution: 'NodeNext', strict: true, outDir: 'out', skipLibCheck: false,
        types: ['node'], typeRoots: [join(repoRoot, 'node_modules', '@types')],
      },
      files: ['main.ts'],
    }),
  );
  const compiled = spawnSync(process.execPath, [join(repoRoot, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', project], { encoding: 'utf8' });
  t.equal(compiled.status, 0, `tsc compiles it: ${compiled.stdout}${compiled.stderr}`);
  const ran = spawnSync(process.execPath, [join(project, 'out', 'main.js'), rootfs, kernel], { env: { ...process.env, BANGER_SOCKET: daemon.socketPath }, encoding: 'utf8' });
  t.equal(ran.status, 0, ran.stderr);
  t.same(JSON.parse(ran.stdout), { health: 'ok', created: true, names: ['from-sdk'], missing: 'vm-not-found', left: 0 }, 'it registered, listed and deleted an image, and read a typed problem');

  // The README's SDK example is code against this package: it must compile as it stands.
  const readme = readFileSync(join(repoRoot, 'README.md'), 'utf8');
  const example = /## Automation with the SDK[\s\S]*?```ts\n([\s\S]*?)```/.exec(readme)?.[1];
  t.ok(example, 'the README has an SDK example');
  writeFileSync(join(project, 'readme-example.ts'), example ?? '');
  writeFileSync(join(project, 'tsconfig.readme.json'), JSON.stringify({ extends: './tsconfig.json', compilerOptions: { noEmit: true }, files: ['readme-example.ts'] }));
  const readmeCompiled = spawnSync(process.execPath, [join(repoRoot, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', join(project, 'tsconfig.readme.json')], { encoding: 'utf8' });
  t.equal(readmeCompiled.status, 0, `the README example compiles: ${readmeCompiled.stdout}${readmeCompiled.stderr}`);

  const cli = join(project, 'node_modules', '.bin', 'banger');
  const ls = spawnSync(cli, ['--socket', daemon.socketPath, 'image', 'ls', '--json'], { encoding: 'utf8' });
  t.equal(ls.status, 0, ls.stderr);
  t.same(JSON.parse(ls.stdout).items ?? JSON.parse(ls.stdout), [], 'the package’s CLI talks to the daemon');
  const serve = spawnSync(cli, ['serve'], { encoding: 'utf8' });
  t.equal(serve.status, 1);
  t.match(serve.stderr, /client package: it talks to a daemon .* but cannot run one/, 'and says it cannot be one');
});

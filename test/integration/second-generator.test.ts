// The contract works for a generator banger does not use: @hey-api/openapi-ts makes a fetch client
// from openapi.yaml, a small TypeScript program is compiled with it (tsc, strict) and run against
// a real daemon's TCP listener, where the contract's bearer security must carry the token. It
// registers an image, reads it back, meets a typed problem and a 401, and deletes the image.
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createClient } from '@hey-api/openapi-ts';
import t from 'tap';
import { makeTempDir, repoRoot, startDaemon, tcpUrlOf } from '../helpers/daemon.js';
import { makeExt4Image, makeKernelFile } from '../helpers/ext4.js';

t.setTimeout(5 * 60_000);

const token = 'second-generator-token-0123456789';

t.test('a client made by @hey-api/openapi-ts drives the daemon over TCP', async (t) => {
  const work = await makeTempDir(t, 'banger-hey-api-');
  await createClient({
    input: join(repoRoot, 'openapi.yaml'),
    output: { path: join(work, 'generated') },
    plugins: ['@hey-api/client-fetch', '@hey-api/typescript', '@hey-api/sdk'],
    logs: { level: 'silent' },
  });
  writeFileSync(join(work, 'package.json'), JSON.stringify({ type: 'module', private: true }));
  writeFileSync(
    join(work, 'main.ts'),
    `import { client } from './generated/client.gen.js';
import { deleteImage, getImage, getVm, health, registerImage } from './generated/sdk.gen.js';
import type { Image, Problem } from './generated/types.gen.js';

const [baseUrl, token, rootfsPath, kernelPath] = process.argv.slice(2) as [string, string, string, string];
client.setConfig({ baseUrl, auth: token });

const unauthorized = await health({ auth: 'not-the-token' });
const registered = await registerImage({ body: { name: 'from-hey-api', rootfsPath, kernelPath }, throwOnError: true });
const image: Image = registered.data;
const fetched = await getImage({ path: { idOrName: image.id }, throwOnError: true });
const missing = await getVm({ path: { idOrName: 'no-such-vm' } });
const problem = missing.error as Problem | undefined;
await deleteImage({ path: { idOrName: image.id }, throwOnError: true });
const gone = await getImage({ path: { idOrName: image.id } });
console.log(JSON.stringify({
  unauthorized: unauthorized.response.status,
  created: registered.response.status,
  name: fetched.data.name,
  docker: fetched.data.docker,
  missing: [missing.response.status, problem?.code],
  gone: gone.response.status,
}));
`,
  );
  writeFileSync(
    join(work, 'tsconfig.json'),
    JSON.stringify({
      compilerOptions: {
        target: 'ES2022', module: 'NodeNext', moduleResolution: 'NodeNext', strict: true, outDir: 'out', skipLibCheck: false, lib: ['ES2022', 'DOM'],
        types: ['node'], typeRoots: [join(repoRoot, 'node_modules', '@types')],
      },
      include: ['main.ts', 'generated/**/*.ts'],
    }),
  );
  const compiled = spawnSync(process.execPath, [join(repoRoot, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', work], { encoding: 'utf8' });
  t.equal(compiled.status, 0, `tsc compiles the generated client and the program: ${compiled.stdout}${compiled.stderr}`);
  if (compiled.status !== 0) return;

  const daemon = await startDaemon(t, { args: ['--listen', '127.0.0.1:0'], env: { BANGER_TOKEN: token } });
  const url = await tcpUrlOf(daemon);
  // Over TCP, registered paths must lie under the state dir's imports/ (BANGER_IMPORT_ROOTS is unset).
  const files = join(daemon.stateDir, 'imports');
  const rootfs = makeExt4Image(join(files, 'rootfs.ext4'), '32M');
  const kernel = makeKernelFile(files);
  const ran = spawnSync(process.execPath, [join(work, 'out', 'main.js'), url, token, rootfs, kernel], { encoding: 'utf8', timeout: 60_000 });
  t.equal(ran.status, 0, ran.stderr);
  t.same(
    JSON.parse(ran.stdout),
    { unauthorized: 401, created: 201, name: 'from-hey-api', docker: false, missing: [404, 'vm-not-found'], gone: 404 },
    'registered, read and deleted an image with the bearer token from the contract, and read typed problems',
  );
  t.equal((await daemon.http('GET', '/images')).body.items.length, 0, 'nothing is left');
});

// The README's API example runs as written: its block (after <!-- readme-example: api -->) goes
// to bash with `set -euo pipefail` against a real daemon whose `default` image is a busybox build,
// with only the socket path changed. Every command must succeed and print what the comments say.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { projectRoot } from '../../server/project-root.js';
import { buildBusybox, startVmDaemon } from '../helpers/vms.js';

/** The first ```sh block after the marker. */
function exampleBlock(name: string): string {
  const readme = readFileSync(join(projectRoot, 'README.md'), 'utf8');
  const marker = `<!-- readme-example: ${name} -->`;
  const at = readme.indexOf(marker);
  if (at < 0) throw new Error(`README.md has no ${marker}`);
  const block = /```sh\n([\s\S]*?)```/.exec(readme.slice(at));
  if (!block?.[1]) throw new Error(`no sh block after ${marker}`);
  return block[1];
}

t.test('the API example', async (t) => {
  const jq = spawnSync('jq', ['--version']);
  t.equal(jq.status, 0, 'jq is on the host (scripts/install-host-deps.sh installs it)');
  const daemon = await startVmDaemon(t);
  await buildBusybox(daemon, 'default');
  const script = exampleBlock('api');
  const socketLine = 'S=/var/lib/banger/banger.sock\n';
  t.ok(script.startsWith(socketLine), 'the block starts by naming the default socket');
  const run = spawnSync('bash', ['-c', `set -euo pipefail\n${script.replace(socketLine, `S=${daemon.socketPath}\n`)}`], { encoding: 'utf8', timeout: 120_000 });
  t.equal(run.status, 0, `the block exits 0; stderr:\n${run.stderr}`);
  const out = run.stdout;
  t.match(out, /"status":"ok"/, 'healthz');
  t.match(out, /"items":\[\{[^]*"name":"default"/, 'a page of images');
  t.match(out, /"name":"base","managed":false/, 'the registration');
  t.match(out, /"succeeded"\n/, 'the promotion job, waited for');
  t.match(out, /^event: stage$/m, 'its events');
  t.match(out, /"job-finished"\n/, 'a cancel of the ended job');
  t.match(out, /(^|[^0-9])304\n/, 'the conditional GET');
  t.equal((await daemon.http('GET', '/images/base')).status, 404, 'and the image is deleted at the end');
});

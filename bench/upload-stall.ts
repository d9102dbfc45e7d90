/**
 * Uploads one after another into one VM (PUT /vms/{id}/files, through the daemon's SSH connection
 * to the guest's shell port), to catch stalls: a request the daemon sent that sits in the guest
 * unread until more bytes come down the port. Before the guest shell's pings
 * (server/guest/guest-shell.ts stallNudgeMs) one upload in three to five of 64 MiB into a Debian
 * guest stopped for minutes, at its start or at its end (the rename), until something else used
 * the port; in CI a 256 MiB upload once took 14 minutes.
 *
 * Prints each upload's MB/s and the longest time the client's bytes did not move, then the
 * median and the slowest. With the pings no upload should wait much longer than stallNudgeMs.
 * In Debian guests each upload is followed by the baseline: scp of as many bytes to the guest's
 * sshd on its published port 22, and the ratio of the two (busybox guests have no network SSH).
 *
 *   npm run build && npx tsx bench/upload-stall.ts [--recipe debian-bookworm|busybox] [--rounds 20] [--mib 64]
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { parseArgs, promisify } from 'node:util';
import { median } from './bench-daemon.js';
import { benchScratch } from './bench-scratch.js';

const { values: flags } = parseArgs({
  options: {
    recipe: { type: 'string', default: 'debian-bookworm' },
    rounds: { type: 'string', default: '20' },
    mib: { type: 'string', default: '64' },
  },
});
const recipe = flags.recipe === 'busybox' ? 'busybox' : 'debian-bookworm';
const rounds = Number(flags.rounds);
const MiB = 1024 * 1024;
const uploadBytes = Number(flags.mib) * MiB;

/** `bytes` of random data as a stream, with how much of it the consumer has taken so far. */
function randomUpload(bytes: number): { stream: Readable; taken: () => number } {
  let taken = 0;
  const chunks = async function* () {
    while (taken < bytes) {
      const size = Math.min(MiB, bytes - taken);
      taken += size;
      yield randomBytes(size);
    }
  };
  return { stream: Readable.from(chunks()), taken: () => taken };
}

const scratch = await benchScratch('banger-bench-upload-');
try {
  const { client } = await scratch.startDaemon();
  const started = performance.now();
  const build = await client.waitJob((await client.buildImage({ name: 'image', recipe })).id, { timeoutMs: 20 * 60_000 });
  if (build.status !== 'succeeded') throw new Error(`build: ${build.error?.detail ?? build.status}`);
  const create = await client.waitJob((await client.createVm({ name: 'vm', image: 'image', cpus: 2, memoryMiB: 512, workDiskSize: '2G' })).id, { timeoutMs: 10 * 60_000 });
  if (create.status !== 'succeeded') throw new Error(`create: ${create.error?.detail ?? create.status}`);
  console.log(`# upload-stall: ${recipe}, ${rounds} uploads of ${flags.mib} MiB; image and VM ready in ${((performance.now() - started) / 1000).toFixed(0)} s\n`);
  const { ssh } = await client.getVm('vm');
  const scpFile = join(scratch.work, 'scp.bin');
  await writeFile(scpFile, randomBytes(uploadBytes));
  const scpSeconds = async (): Promise<number | undefined> => {
    if (recipe !== 'debian-bookworm' || !ssh) return undefined;
    const options = ['-i', ssh.privateKeyPath, '-P', String(ssh.port), '-o', 'StrictHostKeyChecking=no', '-o', 'UserKnownHostsFile=/dev/null', '-o', 'BatchMode=yes', '-o', 'LogLevel=ERROR'];
    const began = performance.now();
    await promisify(execFile)('scp', [...options, scpFile, `${ssh.user}@${ssh.host}:/root/scp.bin`], { timeout: 600_000 });
    return (performance.now() - began) / 1000;
  };
  console.log('| upload | MB/s | seconds | longest wait, s | scp MB/s | × scp |\n| --- | --- | --- | --- | --- | --- |');
  const rates: number[] = [];
  const waits: number[] = [];
  const ratios: number[] = [];
  for (let round = 0; round < rounds && !scratch.interrupted.aborted; round++) {
    const upload = randomUpload(uploadBytes);
    let lastTaken = 0;
    let lastMove = performance.now();
    let longestWait = 0;
    const watch = setInterval(() => {
      const now = performance.now();
      if (upload.taken() !== lastTaken) {
        lastTaken = upload.taken();
        lastMove = now;
      }
      longestWait = Math.max(longestWait, now - lastMove);
    }, 100);
    const began = performance.now();
    await client.writeFile('vm', `/root/upload-${round % 2}.bin`, upload.stream);
    clearInterval(watch);
    const seconds = (performance.now() - began) / 1000;
    // The wait that ends with the answer (a stall at the end) counts too.
    longestWait = Math.max(longestWait, performance.now() - lastMove) / 1000;
    rates.push(uploadBytes / 1e6 / seconds);
    waits.push(longestWait);
    const baseline = await scpSeconds();
    if (baseline !== undefined) ratios.push(baseline / seconds);
    const scpCells = baseline === undefined ? '- | -' : `${(uploadBytes / 1e6 / baseline).toFixed(1)} | ${(baseline / seconds).toFixed(2)}`;
    console.log(`| ${round} | ${(uploadBytes / 1e6 / seconds).toFixed(1)} | ${seconds.toFixed(1)} | ${longestWait.toFixed(1)} | ${scpCells} |`);
  }
  const versusScp = ratios.length > 0 ? `; × scp median ${median(ratios).toFixed(2)}, lowest ${Math.min(...ratios).toFixed(2)}` : '';
  console.log(`\nmedian ${median(rates).toFixed(1)} MB/s, slowest ${Math.min(...rates).toFixed(1)} MB/s; longest wait ${Math.max(...waits).toFixed(1)} s (median ${median(waits).toFixed(1)} s)${versusScp}`);
} finally {
  await scratch.cleanUp();
}

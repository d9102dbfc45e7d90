/**
 * What exec and file transfer through the daemon cost, against plain SSH to the same guest in
 * the same run. One VM of the recipe (Debian by default: its sshd on a published port 22 is the
 * baseline; busybox guests have no network SSH, so only banger's figures are printed there):
 *
 *   1. `true` run N times one after another: POST /vms/{id}/exec (client.exec, to the exit event)
 *      against `ssh -i KEY -p PORT root@127.0.0.1 true` (a new SSH connection each time, as a CI
 *      step would run it); p50 and p99, and their ratio;
 *   2. 8 execs of `sleep 1` at once: wall time (1 s if they truly run side by side);
 *   3. a file of --copy-mib MiB in (PUT /vms/{id}/files) and out (GET), against scp both ways,
 *      with the sha256 checked on every path;
 *   4. 100 MB of program output through exec, with the daemon's peak RSS over its RSS before.
 *
 *   npm run build && npx tsx bench/exec.ts [--recipe debian-bookworm|busybox] [--runs 30] [--copy-mib 256]
 */
import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { targetIdOf, type BangerClient, type Vm } from '../client/index.js';
import { readRssBytes } from '../server/host/proc-memory.js';
import { median, startBenchDaemon, type BenchDaemon } from './bench-daemon.js';

const { values: flags } = parseArgs({
  options: {
    recipe: { type: 'string', default: 'debian-bookworm' },
    runs: { type: 'string', default: '30' },
    'copy-mib': { type: 'string', default: '256' },
  },
});
const recipe = flags.recipe === 'busybox' ? 'busybox' : 'debian-bookworm';
const runs = Number(flags.runs);
const copyBytes = Number(flags['copy-mib']) * 1024 * 1024;
const MiB = 1024 * 1024;

const work = await mkdtemp(join(tmpdir(), 'banger-bench-exec-'));
let daemon: BenchDaemon | undefined;
async function cleanUp(): Promise<void> {
  await daemon?.stop();
  await rm(work, { recursive: true, force: true });
}
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => void cleanUp().finally(() => process.exit(130)));

const percentile = (values: number[], p: number): number => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? Number.NaN;
};
const ms = (value: number): string => `${value.toFixed(0)} ms`;
const ratio = (ours: number, baseline: number | undefined): string => (baseline === undefined ? '-' : (ours / baseline).toFixed(2));

function run(command: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(command, args, { maxBuffer: 64 * MiB, timeout: 600_000 }, (error, stdout, stderr) => (error ? reject(new Error(`${command}: ${stderr || error.message}`)) : resolve(stdout)));
  });
}

async function execToExit(client: BangerClient, vm: string, command: string[]): Promise<{ ms: number; stdout: number }> {
  const started = performance.now();
  let stdout = 0;
  for await (const event of client.exec(vm, { command })) {
    if (event.type === 'output' && event.stream === 'stdout') stdout += Buffer.byteLength(event.data, event.encoding === 'base64' ? 'base64' : 'utf8');
    if (event.type === 'exit' && event.exitCode !== 0) throw new Error(`${command.join(' ')} exited ${event.exitCode}`);
  }
  return { ms: performance.now() - started, stdout };
}

try {
  daemon = await startBenchDaemon(join(work, 'state'));
  const { client } = daemon;
  console.log(`bench/exec: ${recipe}, ${runs} runs, ${copyBytes / MiB} MiB copies`);
  const build = await client.buildImage({ name: 'bench', recipe });
  const built = await client.waitJob(build.id, { timeoutMs: 1_800_000 });
  if (built.status !== 'succeeded') throw new Error(`build failed: ${built.error?.detail}`);
  const port = recipe === 'debian-bookworm' ? 22 : 8080;
  const created = await client.waitJob((await client.createVm({ name: 'bench', image: 'bench', memoryMiB: 1024, ports: [port], workDiskSize: '2G' })).id, { timeoutMs: 900_000 });
  if (created.status !== 'succeeded') throw new Error(`create failed: ${created.error?.detail}`);
  const vm: Vm = await client.getVm(targetIdOf(created));
  const ssh = recipe === 'debian-bookworm' ? vm.ssh : null;
  const sshArgs = ssh ? ['-i', ssh.privateKeyPath, '-o', 'StrictHostKeyChecking=no', '-o', 'UserKnownHostsFile=/dev/null', '-o', 'LogLevel=ERROR', '-o', 'BatchMode=yes'] : [];

  // 1. true, one after another.
  await execToExit(client, 'bench', ['true']); // the first opens the connection: measured apart
  const first = (await execToExit(client, 'bench', ['true'])).ms;
  const ours: number[] = [];
  const theirs: number[] = [];
  for (let i = 0; i < runs; i++) {
    ours.push((await execToExit(client, 'bench', ['true'])).ms);
    if (ssh) {
      const started = performance.now();
      await run('ssh', [...sshArgs, '-p', String(ssh.port), `root@${ssh.host}`, 'true']);
      theirs.push(performance.now() - started);
    }
  }
  const [p50, p99] = [median(ours), percentile(ours, 99)];
  const [b50, b99] = theirs.length > 0 ? [median(theirs), percentile(theirs, 99)] : [undefined, undefined];
  console.log(`\nexec true (after the connection's first, ${ms(first)}):`);
  console.log(`  banger exec   p50 ${ms(p50)}  p99 ${ms(p99)}`);
  if (b50 !== undefined && b99 !== undefined) console.log(`  ssh … true    p50 ${ms(b50)}  p99 ${ms(b99)}`);
  console.log(`  ratio         p50 ${ratio(p50, b50)}  p99 ${ratio(p99, b99)}`);

  // 2. concurrency.
  const together = performance.now();
  await Promise.all(Array.from({ length: 8 }, () => execToExit(client, 'bench', ['sleep', '1'])));
  console.log(`\n8 × sleep 1 at once: ${ms(performance.now() - together)} wall`);

  // 3. copies.
  const local = join(work, 'payload.bin');
  const payload = randomBytes(copyBytes);
  const sha = createHash('sha256').update(payload).digest('hex');
  await writeFile(local, payload);
  let started = performance.now();
  const written = await client.writeFile('bench', '/root/payload.bin', createReadStream(local));
  const putMs = performance.now() - started;
  if (written.sha256 !== sha) throw new Error('PUT: the guest got other bytes');
  started = performance.now();
  const read = await client.readPath('bench', '/root/payload.bin');
  if (read.type !== 'file') throw new Error('GET: not a file');
  const back = createHash('sha256');
  for await (const chunk of read.body) back.update(chunk as Buffer);
  const getMs = performance.now() - started;
  if (back.digest('hex') !== sha) throw new Error('GET: other bytes came back');
  const mbps = (millis: number): string => `${(copyBytes / 1e6 / (millis / 1000)).toFixed(1)} MB/s`;
  console.log(`\n${copyBytes / MiB} MiB copy:`);
  console.log(`  banger PUT ${mbps(putMs)}  GET ${mbps(getMs)}`);
  if (ssh) {
    const scpArgs = [...sshArgs, '-P', String(ssh.port)];
    started = performance.now();
    await run('scp', [...scpArgs, local, `root@${ssh.host}:/root/scp.bin`]);
    const scpIn = performance.now() - started;
    const copied = join(work, 'scp-back.bin');
    started = performance.now();
    await run('scp', [...scpArgs, `root@${ssh.host}:/root/scp.bin`, copied]);
    const scpOut = performance.now() - started;
    if (createHash('sha256').update(await readFile(copied)).digest('hex') !== sha) throw new Error('scp: other bytes came back');
    console.log(`  scp        in ${mbps(scpIn)}  out ${mbps(scpOut)}`);
    console.log(`  ratio (banger time / scp time)  in ${ratio(putMs, scpIn)}  out ${ratio(getMs, scpOut)}`);
  }

  // 4. a lot of output, and the daemon's memory meanwhile.
  const pid = daemon.pid;
  const before = readRssBytes(pid);
  let peak = before;
  const sampler = setInterval(() => {
    peak = Math.max(peak, readRssBytes(pid));
  }, 100);
  const loud = await execToExit(client, 'bench', ['head', '-c', '100000000', '/dev/zero']);
  clearInterval(sampler);
  if (loud.stdout !== 100_000_000) throw new Error(`100 MB of output arrived as ${loud.stdout} bytes`);
  console.log(`\n100 MB of output: ${ms(loud.ms)} (${(100 / (loud.ms / 1000)).toFixed(1)} MB/s); daemon RSS ${(before / MiB).toFixed(0)} MiB, peak +${((peak - before) / MiB).toFixed(0)} MiB`);
} finally {
  await cleanUp();
}

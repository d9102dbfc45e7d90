import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { statInExt4 } from '../../server/host/ext4.js';
import { run } from '../../server/host/runner.js';

/**
 * Test-only CGI scripts for the busybox image's HTTP probe service (busybox httpd on
 * BUSYBOX_PROBE_PORT serves /srv/www): they let a test ask a guest what its kernel and memory
 * hold, and make it write, without a console or exec in the agent. Only test images get them.
 */

const CGI_DIR = '/srv/www/cgi-bin';
const HEADER = `#!/bin/sh\nprintf 'Content-Type: text/plain\\r\\n\\r\\n'\n`;
// One word of letters, digits and dashes, or the script refuses.
const ARGUMENT = `arg=$QUERY_STRING\ncase "$arg" in '' | *[!A-Za-z0-9-]*) echo "bad argument"; exit 0 ;; esac\n`;

const scripts: Record<string, string> = {
  // What the running kernel says about itself: boot_id is random per boot, uptime runs on.
  state: `${HEADER}read -r up _ </proc/uptime
echo "uptime=$up"
echo "boot_id=$(cat /proc/sys/kernel/random/boot_id)"
echo "cmdline=$(cat /proc/cmdline)"
echo "memory_marker=$(cat /tmp/marker 2>/dev/null)"
echo "work_files=$(ls /root | tr '\\n' ' ')"
`,
  // A marker in tmpfs: guest RAM only.
  remember: `${HEADER}${ARGUMENT}echo "$arg" >/tmp/marker && echo ok\n`,
  // A file on the work disk, synced to it.
  touch: `${HEADER}${ARGUMENT}echo "$arg" >"/root/$arg" && sync && echo ok\n`,
  // 1 MiB of random data on each disk, synced; prints their sums.
  fill: `${HEADER}${ARGUMENT}dd if=/dev/urandom of="/root/fill-$arg" bs=64k count=16 2>/dev/null
dd if=/dev/urandom of="/var/fill-$arg" bs=64k count=16 2>/dev/null
sync
md5sum /root/fill-* /var/fill-*
`,
  // The sums again, read from the disks rather than the page cache.
  sums: `${HEADER}sync
echo 3 >/proc/sys/vm/drop_caches
md5sum /root/fill-* /var/fill-*
`,
};

/**
 * Writes the scripts into a busybox rootfs image (bench/busybox-image.ts) without mounting it,
 * as /cgi-bin/test-<name>: the image may have CGI scripts of its own.
 */
export async function addProbeScripts(rootfsImage: string): Promise<void> {
  const sources = await mkdtemp(join(tmpdir(), 'banger-probe-scripts-'));
  try {
    const commands = (await statInExt4(rootfsImage, CGI_DIR)) === null ? [`mkdir ${CGI_DIR}`] : [];
    for (const [name, text] of Object.entries(scripts)) {
      await writeFile(join(sources, name), text);
      const target = `${CGI_DIR}/test-${name}`;
      commands.push(`write ${join(sources, name)} ${target}`, `set_inode_field ${target} mode 0100755`, `set_inode_field ${target} uid 0`, `set_inode_field ${target} gid 0`);
    }
    await writeFile(join(sources, 'commands'), `${commands.join('\n')}\n`);
    const { stderr } = await run('debugfs', ['-w', '-f', join(sources, 'commands'), rootfsImage], { timeoutMs: 30_000 });
    // debugfs exits 0 whatever happened; its complaints follow the echoed commands.
    const complaints = stderr.split('\n').filter((line) => line.trim() !== '' && !line.startsWith('debugfs '));
    if (complaints.length > 0) throw new Error(`debugfs could not add the probe scripts to ${rootfsImage}: ${complaints.join('; ')}`);
  } finally {
    await rm(sources, { recursive: true, force: true });
  }
}

/** One GET of a probe script; throws on anything but a 200 within timeoutMs. */
export async function probeGet(port: number, script: string, argument?: string, timeoutMs = 10_000): Promise<string> {
  const query = argument === undefined ? '' : `?${argument}`;
  const url = `/cgi-bin/test-${script}${query}`;
  const response = await fetch(`http://127.0.0.1:${port}${url}`, { signal: AbortSignal.timeout(timeoutMs) });
  const text = await response.text();
  if (!response.ok) throw new Error(`GET ${url}: HTTP ${response.status}: ${text.slice(0, 200)}`);
  return text;
}

export interface GuestState {
  uptime: number;
  bootId: string;
  cmdline: string;
  memoryMarker: string;
  workFiles: string[];
}

export async function guestState(port: number, timeoutMs?: number): Promise<GuestState> {
  const fields = new Map(
    (await probeGet(port, 'state', undefined, timeoutMs)).split('\n').flatMap((line) => {
      const equals = line.indexOf('=');
      return equals > 0 ? [[line.slice(0, equals), line.slice(equals + 1)] as [string, string]] : [];
    }),
  );
  return {
    uptime: Number(fields.get('uptime')),
    bootId: fields.get('boot_id') ?? '',
    cmdline: fields.get('cmdline') ?? '',
    memoryMarker: fields.get('memory_marker') ?? '',
    workFiles: (fields.get('work_files') ?? '').split(' ').filter((name) => name !== ''),
  };
}

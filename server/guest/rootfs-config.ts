import { constants } from 'node:fs';
import { chmod, lstat, mkdir, open, readFile, readdir, readlink, realpath, rm, symlink } from 'node:fs/promises';
import { dirname, isAbsolute, join, normalize, sep } from 'node:path';
import { run, RunError, type LogSink } from '../host/runner.js';
import { projectRoot } from '../project-root.js';
import { guestFiles } from './guest-files.js';

/**
 * What the Debian image recipes (a bootstrap, or a base rootfs with packages
 * added) share: the guest configuration banger writes into a Debian tree
 * (network, sshd, agent, work disk) as plain files and symlinks from the host,
 * the tree's kernel modules, and running Debian tools in private namespaces.
 */

const debianFilesDir = join(projectRoot, 'server', 'guest', 'files', 'debian');

/** Static files for Debian guests, kept as plain files so they can be read and linted on their own. */
export const debianGuestFiles = {
  /** systemd unit running the guest agent; installed as /etc/systemd/system/banger-agent.service. */
  agentUnit: join(debianFilesDir, 'banger-agent.service'),
  /** Oneshot unit that creates the SSH host keys a guest lacks, before ssh.service. */
  sshHostKeysUnit: join(debianFilesDir, 'banger-ssh-hostkeys.service'),
  /** ssh.service drop-in ordering sshd after the work disk's mount on /root. */
  sshWorkDiskDropIn: join(debianFilesDir, 'ssh-work-disk.conf'),
  /** systemd-networkd: DHCP on the first ethernet NIC. */
  networkdDhcp: join(debianFilesDir, '80-banger-dhcp.network'),
  /** sshd_config.d drop-in: key logins only. */
  sshdDropIn: join(debianFilesDir, 'sshd-banger.conf'),
  /** /etc/modules-load.d entry for the agent's virtio-serial port. */
  modulesLoad: join(debianFilesDir, 'modules-load.conf'),
  /** Runs apt-get in a tree inside private namespaces; see its header. */
  chrootApt: join(debianFilesDir, 'chroot-apt'),
} as const;

/**
 * What configureDebianGuest relies on being installed: systemd as init, udev (networkd
 * only configures links udev has processed), networkd's DNS partner resolved, sshd,
 * iproute2 (the agent reports addresses with `ip`) and e2fsprogs (fsck of the work disk).
 */
export const DEBIAN_GUEST_PACKAGES: readonly string[] = [
  'systemd-sysv',
  'udev',
  'systemd-resolved',
  'openssh-server',
  'iproute2',
  'e2fsprogs',
  // The kernel runs /sbin/modprobe to load modules on demand (overlay, netfilter, tun…).
  'kmod',
];

export const AGENT_GUEST_PATH = '/usr/local/bin/banger-agent';
export const DEFAULT_GUEST_HOSTNAME = 'banger';
/** The work seed is the second virtio disk the hypervisor attaches. */
export const DEFAULT_WORK_DISK = '/dev/vdb';

// ---------------------------------------------------------------------------
// Package names and dpkg's status file

/** Debian package name, optionally `:arch` and `=version`: anything else could be read as an option. */
const PACKAGE_PATTERN = /^[a-z0-9][a-z0-9+.-]+(:[a-z0-9-]+)?(=[A-Za-z0-9.+~:-]+)?$/;

export function isValidPackageName(name: string): boolean {
  return PACKAGE_PATTERN.test(name);
}

export function checkPackageNames(names: readonly string[]): void {
  const bad = names.filter((name) => !isValidPackageName(name));
  if (bad.length > 0) throw new Error(`invalid Debian package name${bad.length > 1 ? 's' : ''}: ${bad.map((name) => JSON.stringify(name)).join(', ')}`);
}

/** The package a requested name refers to, without `:arch` or `=version`. */
export function basePackageName(name: string): string {
  return name.replace(/[:=].*$/, '');
}

export interface InstalledPackage {
  name: string;
  version: string;
  architecture: string;
}

/** Packages dpkg's status file lists as fully installed, sorted by name. */
export function parseDpkgStatus(text: string): InstalledPackage[] {
  const installed: InstalledPackage[] = [];
  for (const stanza of text.split(/\n\s*\n/)) {
    const fields = new Map<string, string>();
    for (const line of stanza.split('\n')) {
      const match = /^([A-Za-z0-9-]+):\s*(.*)$/.exec(line);
      if (match?.[1] && match[2] !== undefined) fields.set(match[1].toLowerCase(), match[2].trim());
    }
    const name = fields.get('package');
    if (!name || fields.get('status') !== 'install ok installed') continue;
    installed.push({ name, version: fields.get('version') ?? '', architecture: fields.get('architecture') ?? '' });
  }
  return installed.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

export async function readInstalledPackages(rootDir: string): Promise<InstalledPackage[]> {
  return parseDpkgStatus(await readTreeFile(rootDir, 'var/lib/dpkg/status'));
}

/** Requested names that are not installed, so a build can fail with the names instead of booting without them. */
export function missingPackages(requested: readonly string[], installed: readonly InstalledPackage[]): string[] {
  const have = new Set(installed.map((pkg) => pkg.name));
  return requested.filter((name) => !have.has(basePackageName(name)));
}

const WRAPPER_ERRORS = /^E: (setup failed|mmdebstrap failed|.* failed$)/;
const SUMMARY_CHARS = 500;

/**
 * apt's and dpkg's own error lines ("E: Unable to locate package nosuch") from a
 * failed run's output, without the wrapper's generic ones; null if there are none.
 */
export function aptErrorSummary(output: string): string | null {
  const lines: string[] = [];
  for (const rawLine of output.split('\n')) {
    const line = rawLine.trim();
    if (!line.startsWith('E: ') || WRAPPER_ERRORS.test(line) || lines.includes(line)) continue;
    lines.push(line);
  }
  if (lines.length === 0) return null;
  const text = lines.join('; ');
  return text.length > SUMMARY_CHARS ? `${text.slice(0, SUMMARY_CHARS)}…` : text;
}

/**
 * Arguments that run a command as PID 1 of new mount and PID namespaces. Mounts
 * it makes (mmdebstrap mounts /proc, /sys and /dev into the tree) never reach
 * the host's mount table and vanish with it, even when it is killed before it
 * can clean up; and when it dies the kernel kills everything it started.
 */
export function privateNamespaceArgs(procMount?: string): string[] {
  return [
    '--mount',
    '--propagation',
    'private',
    '--pid',
    '--fork',
    // If unshare itself is killed, its child must not live on.
    '--kill-child',
    procMount === undefined ? '--mount-proc' : `--mount-proc=${procMount}`,
    '--',
  ];
}

/**
 * The same failure with apt's own error lines as its message: mmdebstrap ends
 * with a generic "mmdebstrap failed to run", while the cause ("E: Unable to
 * locate package …") is further up in stderr.
 */
export function withAptMessage(error: unknown, name?: string): unknown {
  if (!(error instanceof RunError) || error.reason !== 'exit') return error;
  const summary = aptErrorSummary(error.stderr);
  if (summary === null) return error;
  // Commands run through privateNamespaceArgs are named after the `--`.
  const separator = error.args.indexOf('--');
  const command = name ?? (error.command === 'unshare' && separator >= 0 ? (error.args[separator + 1] ?? error.command) : error.command);
  return new RunError(`${command} failed: ${summary}`, {
    command: error.command,
    args: error.args,
    exitCode: error.exitCode,
    signal: error.signal,
    stderr: error.stderr,
    stdout: error.stdout,
    reason: error.reason,
    cause: error,
  });
}

// ---------------------------------------------------------------------------
// The host's apt sources, for the mirror to bootstrap from

export interface AptSource {
  types: string[];
  uris: string[];
  suites: string[];
  components: string[];
  signedBy?: string;
  enabled: boolean;
}

/** One-line-style entries (sources.list, *.list): `deb [options] URI SUITE COMPONENT...`. */
export function parseOneLineSources(text: string): AptSource[] {
  const sources: AptSource[] = [];
  for (const rawLine of text.split('\n')) {
    const line = rawLine.replace(/#.*$/, '').trim();
    if (line === '') continue;
    let rest = line;
    const type = /^(\S+)\s+/.exec(rest);
    if (!type?.[1]) continue;
    rest = rest.slice(type[0].length);
    let signedBy: string | undefined;
    let enabled = true;
    if (rest.startsWith('[')) {
      const end = rest.indexOf(']');
      if (end < 0) continue;
      for (const option of rest.slice(1, end).trim().split(/\s+/)) {
        const [key, value] = option.split('=', 2);
        if (key === 'signed-by' && value) signedBy = value;
        if (key === 'enabled' && value === 'no') enabled = false;
      }
      rest = rest.slice(end + 1).trim();
    }
    const [uri, suite, ...components] = rest.split(/\s+/);
    if (!uri || !suite) continue;
    const source: AptSource = { types: [type[1]], uris: [uri], suites: [suite], components, enabled };
    if (signedBy !== undefined) source.signedBy = signedBy;
    sources.push(source);
  }
  return sources;
}

/** deb822-style entries (*.sources): paragraphs of `Field: value` with indented continuation lines. */
export function parseDeb822Sources(text: string): AptSource[] {
  const sources: AptSource[] = [];
  const paragraphs: Map<string, string>[] = [];
  let current = new Map<string, string>();
  let lastKey: string | null = null;
  const flush = (): void => {
    if (current.size > 0) paragraphs.push(current);
    current = new Map();
    lastKey = null;
  };
  for (const line of text.split('\n')) {
    if (line.startsWith('#')) continue;
    if (line.trim() === '') {
      flush();
      continue;
    }
    if (/^\s/.test(line)) {
      // An inline Signed-By key, for one, continues over many lines.
      if (lastKey !== null) current.set(lastKey, `${current.get(lastKey) ?? ''}\n${line.trim()}`);
      continue;
    }
    const match = /^([A-Za-z0-9-]+):\s*(.*)$/.exec(line);
    if (!match?.[1]) continue;
    lastKey = match[1].toLowerCase();
    current.set(lastKey, (match[2] ?? '').trim());
  }
  flush();
  const words = (value: string | undefined): string[] => (value ?? '').split(/\s+/).filter((word) => word !== '');
  for (const fields of paragraphs) {
    const source: AptSource = {
      types: words(fields.get('types')),
      uris: words(fields.get('uris')),
      suites: words(fields.get('suites')),
      components: words(fields.get('components')),
      enabled: (fields.get('enabled') ?? 'yes').toLowerCase() !== 'no',
    };
    const signedBy = fields.get('signed-by');
    if (signedBy !== undefined && signedBy !== '') source.signedBy = signedBy;
    if (source.types.length > 0 && source.uris.length > 0 && source.suites.length > 0) sources.push(source);
  }
  return sources;
}

/** Every entry apt itself would read from aptDir: sources.list, sources.list.d/*.list and *.sources. */
export async function readHostAptSources(aptDir = '/etc/apt'): Promise<AptSource[]> {
  const read = (path: string): Promise<string | null> =>
    readFile(path, 'utf8').catch((error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOENT' || error.code === 'EISDIR') return null;
      throw error;
    });
  const sources: AptSource[] = [];
  const main = await read(join(aptDir, 'sources.list'));
  if (main !== null) sources.push(...parseOneLineSources(main));
  let names: string[] = [];
  try {
    names = (await readdir(join(aptDir, 'sources.list.d'))).sort();
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  // apt ignores files with other extensions (e.g. a disabled list renamed *.list.disabled).
  for (const name of names) {
    if (!name.endsWith('.list') && !name.endsWith('.sources')) continue;
    const text = await read(join(aptDir, 'sources.list.d', name));
    if (text === null) continue;
    sources.push(...(name.endsWith('.list') ? parseOneLineSources(text) : parseDeb822Sources(text)));
  }
  return sources;
}

const SUITE_FLAVOURS = ['', '-updates', '-security'] as const;

/** The last path segment of a mirror URI ("debian", "debian-security"). */
function uriTail(uri: string): string {
  return uri.replace(/\/+$/, '').split('/').at(-1) ?? '';
}

function looksLikeDebianArchive(source: AptSource, uri: string): boolean {
  // Third-party repositories bring their own keyring; Debian's own archives use Debian's.
  if (source.signedBy !== undefined) return /debian-archive-keyring/.test(source.signedBy);
  return ['debian', 'debian-security'].includes(uriTail(uri));
}

/**
 * `deb URI SUITE main` lines for suite, suite-updates and suite-security, taken
 * from the host's own apt sources, so a build uses whatever mirror (or proxy)
 * this host is set up for. Entries for the same suite are taken as they are;
 * if the host runs another Debian release, its Debian mirrors are used with the
 * suite name swapped. Empty when the host has no usable Debian source.
 */
export function debianMirrorLines(sources: readonly AptSource[], suite: string): string[] {
  const usable = sources.filter(
    (source) => source.enabled && source.types.includes('deb') && source.components.includes('main'),
  );
  const lines: string[] = [];
  const add = (uri: string, flavour: string): void => {
    if (!/^(https?|file):/.test(uri)) return;
    const line = `deb ${uri} ${suite}${flavour} main`;
    if (!lines.includes(line)) lines.push(line);
  };
  for (const flavour of SUITE_FLAVOURS) {
    for (const source of usable) {
      if (!source.suites.includes(`${suite}${flavour}`)) continue;
      for (const uri of source.uris) if (looksLikeDebianArchive(source, uri)) add(uri, flavour);
    }
  }
  if (lines.some((line) => line.endsWith(` ${suite} main`))) return lines;

  lines.length = 0;
  for (const flavour of SUITE_FLAVOURS) {
    for (const source of usable) {
      const hostSuite = source.suites.find((name) => {
        if (flavour === '') return /^[a-z]+$/.test(name) && !['stable', 'testing', 'unstable', 'sid', 'experimental'].includes(name);
        return name.endsWith(flavour) && /^[a-z]+$/.test(name.slice(0, -flavour.length));
      });
      if (hostSuite === undefined) continue;
      for (const uri of source.uris) {
        if (!looksLikeDebianArchive(source, uri)) continue;
        // Security updates live in their own archive; do not ask the main one for them.
        if ((flavour === '-security') !== (uriTail(uri) === 'debian-security')) continue;
        add(uri, flavour);
      }
    }
  }
  return lines.some((line) => line.endsWith(` ${suite} main`)) ? lines : [];
}

// ---------------------------------------------------------------------------
// Writing into a tree without escaping it

function checkRelative(relPath: string): string {
  const clean = normalize(relPath);
  if (isAbsolute(relPath) || clean === '..' || clean.startsWith(`..${sep}`) || clean === '.') {
    throw new Error(`path inside the tree must be relative and stay inside it: ${relPath}`);
  }
  return clean;
}

/**
 * Host path of relPath in the tree, refusing one whose directory resolves outside
 * rootDir: a tree can hold absolute symlinks (an extracted base rootfs, say) that
 * would otherwise lead reads and writes onto the host's own files.
 */
async function treePath(rootDir: string, relPath: string, options: { createParents?: boolean } = {}): Promise<string> {
  const clean = checkRelative(relPath);
  const path = join(rootDir, clean);
  const realRoot = await realpath(rootDir);
  const inside = async (dir: string): Promise<void> => {
    const real = await realpath(dir);
    if (real !== realRoot && !real.startsWith(`${realRoot}${sep}`)) throw new Error(`${relPath} leads outside ${rootDir} (through ${real})`);
  };
  if (options.createParents) {
    // Check the deepest existing ancestor first: mkdir would follow a link out of the tree.
    let existing = dirname(path);
    while ((await lstat(existing).catch(() => null)) === null) existing = dirname(existing);
    await inside(existing);
    await mkdir(dirname(path), { recursive: true });
  }
  await inside(dirname(path));
  return path;
}

/** Reads a regular file of the tree; a symlink there is not followed. */
export async function readTreeFile(rootDir: string, relPath: string): Promise<string> {
  const path = await treePath(rootDir, relPath);
  const handle = await open(path, constants.O_RDONLY | constants.O_NOFOLLOW);
  try {
    return await handle.readFile('utf8');
  } finally {
    await handle.close();
  }
}

export async function listTreeDir(rootDir: string, relPath: string): Promise<string[]> {
  const path = await treePath(rootDir, `${checkRelative(relPath)}/.`);
  return readdir(path);
}

/**
 * Removes what is at path unless it is a directory; a symlink is removed, never
 * followed. Returns the owner of a regular file it removed.
 */
async function clearTarget(path: string): Promise<{ uid: number; gid: number } | null> {
  let info;
  try {
    info = await lstat(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw error;
  }
  if (info.isDirectory()) throw new Error(`${path} is a directory`);
  await rm(path);
  return info.isFile() ? { uid: info.uid, gid: info.gid } : null;
}

/**
 * Writes a regular file into the tree with an exact mode, replacing a file or
 * symlink there. A replaced file's owner is kept (/etc/shadow belongs to group shadow).
 */
export async function writeTreeFile(rootDir: string, relPath: string, content: string | Buffer, mode = 0o644): Promise<void> {
  const path = await treePath(rootDir, relPath, { createParents: true });
  const owner = await clearTarget(path);
  const handle = await open(path, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, mode);
  try {
    await handle.writeFile(content);
    if (owner !== null) await handle.chown(owner.uid, owner.gid);
    // open()'s mode passes through the umask, and chown clears setuid bits.
    await handle.chmod(mode);
  } finally {
    await handle.close();
  }
}

export async function copyIntoTree(rootDir: string, source: string, relPath: string, mode = 0o644): Promise<void> {
  await writeTreeFile(rootDir, relPath, await readFile(source), mode);
}

/** Creates (or replaces) a symlink in the tree; target is as the guest will see it. */
export async function linkInTree(rootDir: string, relPath: string, target: string): Promise<void> {
  const path = await treePath(rootDir, relPath, { createParents: true });
  try {
    const info = await lstat(path);
    if (info.isSymbolicLink() && (await readlink(path)) === target) return;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  await clearTarget(path);
  await symlink(target, path);
}

export async function removeFromTree(rootDir: string, relPath: string): Promise<void> {
  let path: string;
  try {
    path = await treePath(rootDir, relPath);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw error;
  }
  await clearTarget(path);
}

// ---------------------------------------------------------------------------
// systemd units, enabled the way `systemctl enable` would

export interface UnitInstall {
  wantedBy: string[];
  requiredBy: string[];
  alias: string[];
  also: string[];
}

/** The [Install] section of a unit file. */
export function parseUnitInstall(text: string): UnitInstall {
  const install: UnitInstall = { wantedBy: [], requiredBy: [], alias: [], also: [] };
  let inInstall = false;
  for (const rawLine of text.split('\n')) {
    const line = rawLine.trim();
    if (line === '' || line.startsWith('#') || line.startsWith(';')) continue;
    if (line.startsWith('[')) {
      inInstall = line === '[Install]';
      continue;
    }
    if (!inInstall) continue;
    const match = /^([A-Za-z]+)\s*=\s*(.*)$/.exec(line);
    if (!match?.[1]) continue;
    const values = (match[2] ?? '').split(/\s+/).filter((value) => value !== '');
    const key = match[1];
    const list =
      key === 'WantedBy' ? install.wantedBy : key === 'RequiredBy' ? install.requiredBy : key === 'Alias' ? install.alias : key === 'Also' ? install.also : null;
    if (list === null) continue;
    // An empty assignment resets the list, as in systemd.
    if (values.length === 0) list.length = 0;
    else list.push(...values);
  }
  return install;
}

// Debian 12 keeps units in /lib/systemd/system (the same directory as /usr/lib/… under merged /usr).
const UNIT_DIRS = ['etc/systemd/system', 'lib/systemd/system', 'usr/lib/systemd/system'] as const;

async function findUnit(rootDir: string, unitName: string): Promise<{ relPath: string; guestPath: string } | null> {
  const instance = /^([^@]+@)([^.]+)(\.[a-z]+)$/.exec(unitName);
  const candidates = instance?.[1] && instance[3] && instance[2] !== '' ? [unitName, `${instance[1]}${instance[3]}`] : [unitName];
  for (const dir of UNIT_DIRS) {
    for (const file of candidates) {
      const relPath = `${dir}/${file}`;
      try {
        const info = await lstat(join(rootDir, relPath));
        // Symlinks in the unit dirs are aliases or masks, not unit files.
        if (info.isFile()) return { relPath, guestPath: `/${relPath}` };
      } catch {
        // not in this directory
      }
    }
  }
  return null;
}

/**
 * Enables a unit in the tree: symlinks in the .wants/.requires directories of
 * its WantedBy/RequiredBy targets, its aliases, and the units named by Also=.
 * Template instances (serial-getty@ttyS0.service) are linked to the template.
 */
export async function enableUnit(rootDir: string, unitName: string, seen = new Set<string>()): Promise<void> {
  if (seen.has(unitName)) return;
  seen.add(unitName);
  const unit = await findUnit(rootDir, unitName);
  if (unit === null) throw new Error(`cannot enable ${unitName}: no unit file in ${rootDir}`);
  const install = parseUnitInstall(await readTreeFile(rootDir, unit.relPath));
  const specifier = [...install.wantedBy, ...install.requiredBy, ...install.alias].find((name) => name.includes('%'));
  if (specifier !== undefined) throw new Error(`cannot enable ${unitName}: [Install] uses specifiers (${specifier})`);
  for (const target of install.wantedBy) await linkInTree(rootDir, `etc/systemd/system/${target}.wants/${unitName}`, unit.guestPath);
  for (const target of install.requiredBy) await linkInTree(rootDir, `etc/systemd/system/${target}.requires/${unitName}`, unit.guestPath);
  if (!unitName.includes('@')) {
    for (const alias of install.alias) await linkInTree(rootDir, `etc/systemd/system/${alias}`, unit.guestPath);
  }
  for (const also of install.also) await enableUnit(rootDir, also, seen);
}

// ---------------------------------------------------------------------------
// Generated file contents

export interface FstabOptions {
  /** Device or LABEL=/UUID= of the work disk. Default /dev/vdb. */
  workDisk?: string;
}

/** /etc/fstab: the work disk holds /root, and a guest started without it still boots. */
export function fstabContent(options: FstabOptions = {}): string {
  const workDisk = options.workDisk ?? DEFAULT_WORK_DISK;
  if (!/^(\/dev\/[A-Za-z0-9/_.-]+|LABEL=[A-Za-z0-9_.-]{1,16}|UUID=[0-9A-Fa-f-]+)$/.test(workDisk)) {
    throw new Error(`invalid work disk for fstab: ${JSON.stringify(workDisk)}`);
  }
  return [
    '# Written by banger. The root filesystem is mounted by the initramfs (root= on',
    '# the kernel command line). The work disk is the image\'s /root tree with the',
    '# SSH authorized_keys; nofail lets a guest started without it boot anyway.',
    '# Under software emulation on a busy host udev can take well over 10 s to',
    '# announce the disk, hence the generous device timeout.',
    `${workDisk}\t/root\text4\tdefaults,nofail,x-systemd.device-timeout=300s\t0\t2`,
    '',
  ].join('\n');
}

const HOSTNAME_PATTERN = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/i;

export function hostsContent(hostname: string): string {
  if (!HOSTNAME_PATTERN.test(hostname)) throw new Error(`invalid hostname: ${JSON.stringify(hostname)}`);
  return [
    '127.0.0.1\tlocalhost',
    `127.0.1.1\t${hostname}`,
    '::1\tlocalhost ip6-localhost ip6-loopback',
    'ff02::1\tip6-allnodes',
    'ff02::2\tip6-allrouters',
    '',
  ].join('\n');
}

/** Whether sshd_config reads /etc/ssh/sshd_config.d before any setting of its own (Debian 12's does). */
export function sshdIncludesDropIns(sshdConfig: string): boolean {
  for (const rawLine of sshdConfig.split('\n')) {
    const line = rawLine.trim();
    if (line === '' || line.startsWith('#')) continue;
    return /^Include\s+\/etc\/ssh\/sshd_config\.d\/\*\.conf$/i.test(line);
  }
  return false;
}

/** sshd keeps the first value it reads for a keyword: the drop-ins must be read first. */
export function withDropInsFirst(sshdConfig: string): string {
  return sshdIncludesDropIns(sshdConfig) ? sshdConfig : `Include /etc/ssh/sshd_config.d/*.conf\n${sshdConfig}`;
}

/** root's /etc/shadow entry with no usable password: `*` locks password logins but, unlike `!`, not key logins when sshd runs without PAM. */
export function lockRootPassword(shadow: string): string {
  let found = false;
  const lines = shadow.split('\n').map((line) => {
    if (!line.startsWith('root:')) return line;
    found = true;
    const fields = line.split(':');
    fields[1] = '*';
    return fields.join(':');
  });
  if (!found) throw new Error('/etc/shadow has no root entry');
  return lines.join('\n');
}

// ---------------------------------------------------------------------------
// Kernel modules

export interface InstallModulesOptions {
  signal?: AbortSignal;
  log?: LogSink;
}

const MODULES_TIMEOUT_MS = 10 * 60 * 1000;

/**
 * Copies a kernel's modules into the tree at /lib/modules/<kernelVersion> and
 * indexes them with the tree's own depmod. kmod's modprobe (which the kernel
 * also runs to load a module on demand: overlay for Docker, netfilter, tun…)
 * only reads the binary indexes (modules.dep.bin, modules.alias.bin), which a
 * host without kmod cannot write; the plain modules.dep is not enough.
 */
export async function installKernelModules(rootDir: string, modulesDir: string, kernelVersion: string, options: InstallModulesOptions = {}): Promise<void> {
  const { signal, log } = options;
  if (!/^[A-Za-z0-9][A-Za-z0-9.+_-]*$/.test(kernelVersion)) throw new Error(`invalid kernel version: ${kernelVersion}`);
  const target = await treePath(rootDir, `lib/modules/${kernelVersion}`, { createParents: true });
  await rm(target, { recursive: true, force: true });
  await run('cp', ['-a', '--reflink=auto', '--', modulesDir, target], { timeoutMs: MODULES_TIMEOUT_MS, signal, log });
  // lstat: the tree's links are absolute (/sbin/depmod -> /bin/kmod) and mean the tree's files, not the host's.
  let depmod: string | undefined;
  for (const path of ['usr/sbin/depmod', 'sbin/depmod']) {
    if ((await lstat(join(rootDir, path)).catch(() => null)) !== null) {
      depmod = path;
      break;
    }
  }
  if (depmod === undefined) {
    log?.write(`modules: ${rootDir} has no depmod (kmod); modprobe in the guest will not find modules by name\n`);
    return;
  }
  // depmod only reads and writes files under /lib/modules: a plain chroot, no mounts.
  await run('chroot', [rootDir, `/${depmod}`, kernelVersion], { timeoutMs: MODULES_TIMEOUT_MS, signal, log, env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', LC_ALL: 'C' } });
}

// ---------------------------------------------------------------------------
// The whole guest configuration

export interface DebianGuestOptions extends FstabOptions {
  hostname?: string;
}

/** Timers that would run apt in the background of short-lived guests and hold the dpkg lock a job needs. */
const DISABLED_TIMERS = ['apt-daily.timer', 'apt-daily-upgrade.timer'];

/**
 * Configures a Debian tree (with DEBIAN_GUEST_PACKAGES installed)
 * as a banger guest: serial console, DHCP through systemd-networkd, DNS through
 * systemd-resolved, key-only sshd with per-guest host keys, the guest agent,
 * the work disk on /root, hostname, locked root password.
 */
export async function configureDebianGuest(rootDir: string, options: DebianGuestOptions = {}): Promise<void> {
  const hostname = options.hostname ?? DEFAULT_GUEST_HOSTNAME;
  await writeTreeFile(rootDir, 'etc/hostname', `${hostname}\n`);
  await writeTreeFile(rootDir, 'etc/hosts', hostsContent(hostname));
  await writeTreeFile(rootDir, 'etc/fstab', fstabContent(options));
  await writeTreeFile(rootDir, 'etc/shadow', lockRootPassword(await readTreeFile(rootDir, 'etc/shadow')), 0o640);

  await copyIntoTree(rootDir, debianGuestFiles.networkdDhcp, 'etc/systemd/network/80-banger-dhcp.network');
  await enableUnit(rootDir, 'systemd-networkd.service');
  await enableUnit(rootDir, 'systemd-resolved.service');
  // Programs that read /etc/resolv.conf directly go through resolved's stub.
  await linkInTree(rootDir, 'etc/resolv.conf', '../run/systemd/resolve/stub-resolv.conf');
  await enableUnit(rootDir, 'serial-getty@ttyS0.service');

  await copyIntoTree(rootDir, debianGuestFiles.sshdDropIn, 'etc/ssh/sshd_config.d/banger.conf');
  const sshdConfig = await readTreeFile(rootDir, 'etc/ssh/sshd_config');
  if (!sshdIncludesDropIns(sshdConfig)) await writeTreeFile(rootDir, 'etc/ssh/sshd_config', withDropInsFirst(sshdConfig));
  for (const name of await listTreeDir(rootDir, 'etc/ssh')) {
    if (/^ssh_host_.*_key(\.pub)?$/.test(name)) await removeFromTree(rootDir, `etc/ssh/${name}`);
  }
  await copyIntoTree(rootDir, debianGuestFiles.sshHostKeysUnit, 'etc/systemd/system/banger-ssh-hostkeys.service');
  await enableUnit(rootDir, 'banger-ssh-hostkeys.service');
  await copyIntoTree(rootDir, debianGuestFiles.sshWorkDiskDropIn, 'etc/systemd/system/ssh.service.d/banger-work-disk.conf');
  await enableUnit(rootDir, 'ssh.service');

  await copyIntoTree(rootDir, guestFiles.agent, AGENT_GUEST_PATH.slice(1), 0o755);
  await copyIntoTree(rootDir, debianGuestFiles.agentUnit, 'etc/systemd/system/banger-agent.service');
  await enableUnit(rootDir, 'banger-agent.service');
  await copyIntoTree(rootDir, debianGuestFiles.modulesLoad, 'etc/modules-load.d/banger.conf');

  for (const timer of DISABLED_TIMERS) await removeFromTree(rootDir, `etc/systemd/system/timers.target.wants/${timer}`);
  // /root is a mount point for the work disk; keep it private even when that is missing.
  const rootHome = await treePath(rootDir, 'root');
  await mkdir(rootHome, { recursive: true });
  if (!(await lstat(rootHome)).isDirectory()) throw new Error(`${rootHome} is not a directory`);
  await chmod(rootHome, 0o700);
}

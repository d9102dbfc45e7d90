import { mkdir, mkdtemp, readdir, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { run, type LogSink } from '../host/runner.js';
import { privateNamespaceArgs, withAptMessage } from './debian/apt-run.js';
import { debianMirrorLines, readHostAptSources } from './debian/apt-sources.js';
import { configureDebianGuest, type DebianGuestOptions } from './debian/configure-guest.js';
import { DEBIAN_GUEST_PACKAGES } from './debian/guest-spec.js';
import { checkPackageNames, missingPackages, readInstalledPackages, type InstalledPackage } from './debian/packages.js';

export const DEBIAN_SUITE = 'bookworm';

/** Docker from Debian's own packages, plus what it needs at run time but only recommends or assumes. */
export const DOCKER_PACKAGES: readonly string[] = [
  'docker.io',
  // Pulling images over TLS needs the CA bundle; docker.io only recommends it.
  'ca-certificates',
];

export type DebianBuildPhase = 'bootstrap_rootfs' | 'install_packages';

export interface BootstrapDebianOptions extends DebianGuestOptions {
  /** Extra packages; apt resolves their dependencies. */
  packages: readonly string[];
  /** Adds Docker (DOCKER_PACKAGES); its unit is enabled by the package itself. */
  docker?: boolean;
  /** `deb URI SUITE COMPONENT…` lines. Default: the Debian mirrors in the host's own apt sources. */
  sources?: readonly string[];
  /** Default 30 minutes. */
  timeoutMs?: number;
  signal?: AbortSignal;
  log?: LogSink;
  /** Called for each command started (a dry run, then the bootstrap), so it can be killed after a daemon crash. */
  onSpawn?: (pid: number) => void;
  /** Called with 'bootstrap_rootfs' at the start and 'install_packages' once mmdebstrap gets to them. */
  onPhase?: (phase: DebianBuildPhase) => void;
}

const BOOTSTRAP_TIMEOUT_MS = 30 * 60 * 1000;

// mmdebstrap announces each of its steps with an "I: …" line on stderr; this one
// starts the installation of everything beyond the essential set.
const INSTALL_PACKAGES_MARKER = 'I: installing remaining packages';

/**
 * Images are for short-lived machines: no manuals or documentation (copyright
 * files stay) and no message translations. mmdebstrap also writes these to the
 * tree's dpkg.cfg.d, so later installs into the image keep to them.
 */
const DPKG_PATH_FILTERS = [
  'path-exclude=/usr/share/man/*',
  'path-exclude=/usr/share/info/*',
  'path-exclude=/usr/share/doc/*',
  'path-include=/usr/share/doc/*/copyright',
  'path-exclude=/usr/share/locale/*/LC_MESSAGES/*.mo',
];

/** A log sink that forwards everything and reports once when text appears in the stream. */
function watchFor(marker: string, log: LogSink | undefined, onSeen: () => void): LogSink {
  let tail = '';
  let seen = false;
  return {
    write(chunk: string | Buffer): void {
      try {
        log?.write(chunk);
      } finally {
        if (!seen) {
          // Kept across chunks: the marker can arrive split in two.
          const text = tail + chunk.toString();
          if (text.includes(marker)) {
            seen = true;
            onSeen();
          }
          tail = text.slice(-marker.length);
        }
      }
    },
  };
}

function say(log: LogSink | undefined, message: string): void {
  try {
    log?.write(`${message}\n`);
  } catch {
    // Progress lines are a courtesy; a broken log must not fail the build.
  }
}

/** Mirror lines for the bootstrap: given ones, or the host's Debian mirrors. */
export async function bootstrapSources(given?: readonly string[]): Promise<string[]> {
  if (given !== undefined) {
    if (given.length === 0) throw new Error('no apt sources given for the Debian bootstrap');
    for (const line of given) {
      if (!/^deb\s+(\[[^\]\n]*\]\s+)?\S+\s+\S+(\s+\S+)*$/.test(line.trim())) throw new Error(`not an apt source line: ${JSON.stringify(line)}`);
    }
    return given.map((line) => line.trim());
  }
  const lines = debianMirrorLines(await readHostAptSources(), DEBIAN_SUITE);
  if (lines.length === 0) {
    throw new Error(
      `the host's apt sources name no Debian mirror for ${DEBIAN_SUITE} (or another Debian release) with the main component; ` +
        'add one to /etc/apt/sources.list.d or pass the sources explicitly',
    );
  }
  return lines;
}

/**
 * Bootstraps Debian bookworm into rootDir (empty or absent) with mmdebstrap
 * (minbase, the guest packages, the requested ones, Docker if asked), then
 * configures it as a banger guest (configureDebianGuest). Returns the installed
 * packages. Runs as root and keeps the tree's ownership, so build the image from
 * it as root too. On failure rootDir is left partly filled for the caller to
 * remove; nothing is mounted on the host at any point.
 */
export async function bootstrapDebianRootfs(rootDir: string, options: BootstrapDebianOptions): Promise<InstalledPackage[]> {
  const { signal, log, onPhase } = options;
  checkPackageNames(options.packages);
  if (process.getuid?.() !== 0) throw new Error('building a Debian rootfs needs root (mmdebstrap in root mode, chown, mknod)');
  signal?.throwIfAborted();
  await mkdir(rootDir, { recursive: true });
  if ((await readdir(rootDir)).length > 0) throw new Error(`${rootDir} is not empty`);

  const sources = await bootstrapSources(options.sources);
  const include = [...new Set([...DEBIAN_GUEST_PACKAGES, ...(options.docker ? DOCKER_PACKAGES : []), ...options.packages])];
  onPhase?.('bootstrap_rootfs');
  say(log, `debian: bootstrapping ${DEBIAN_SUITE} into ${rootDir} from ${sources.join('; ')}`);
  say(log, `debian: packages ${include.join(' ')}`);

  let installing = false;
  const watched = watchFor(INSTALL_PACKAGES_MARKER, log, () => {
    installing = true;
    onPhase?.('install_packages');
  });
  const mmdebstrap = (target: string, mode: string[]): string[] => [
    ...privateNamespaceArgs(),
    'mmdebstrap',
    ...mode,
    '--mode=root',
    '--variant=minbase',
    '--format=directory',
    `--include=${include.join(',')}`,
    ...DPKG_PATH_FILTERS.map((filter) => `--dpkgopt=${filter}`),
    DEBIAN_SUITE,
    target,
    ...sources,
  ];
  const env = { ...process.env, LC_ALL: 'C', DEBIAN_FRONTEND: 'noninteractive' };
  const deadline = Date.now() + (options.timeoutMs ?? BOOTSTRAP_TIMEOUT_MS);
  const remaining = (): number => Math.max(1, deadline - Date.now());

  // mmdebstrap resolves the requested packages only after installing the
  // essential set, half a minute or more in. A dry run (package lists and apt's
  // solver, a few seconds) finds unknown or uninstallable packages first.
  const simulateDir = await mkdtemp(join(dirname(rootDir), `.${basename(rootDir)}-simulate-`));
  let started = Date.now();
  try {
    await run('unshare', mmdebstrap(simulateDir, ['--simulate']), { env, timeoutMs: remaining(), signal, log, onSpawn: options.onSpawn });
  } catch (error) {
    throw withAptMessage(error);
  } finally {
    await rm(simulateDir, { recursive: true, force: true });
  }
  say(log, `debian: package selection checked in ${((Date.now() - started) / 1000).toFixed(1)} s`);

  started = Date.now();
  try {
    await run('unshare', mmdebstrap(rootDir, ['--verbose']), { env, timeoutMs: remaining(), signal, log: watched, onSpawn: options.onSpawn });
  } catch (error) {
    throw withAptMessage(error);
  }
  if (!installing) onPhase?.('install_packages');
  say(log, `debian: bootstrap took ${((Date.now() - started) / 1000).toFixed(1)} s`);

  signal?.throwIfAborted();
  await configureDebianGuest(rootDir, { hostname: options.hostname, workDisk: options.workDisk });
  const installed = await readInstalledPackages(rootDir);
  const missing = missingPackages(include, installed);
  if (missing.length > 0) throw new Error(`packages missing after the bootstrap: ${missing.join(', ')}`);
  say(log, `debian: ${installed.length} packages installed; guest configured`);
  return installed;
}

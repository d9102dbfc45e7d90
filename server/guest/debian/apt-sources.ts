import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';

/**
 * The host's apt sources, read so a Debian bootstrap uses the mirror (or proxy)
 * this host is already set up for.
 */

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

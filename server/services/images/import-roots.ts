/**
 * Where the host paths of a request may point. The daemon runs as root, so a path it is handed is
 * read with root's rights: the import roots bound that, most of all for requests from the network.
 */

/** Which listener a request came in on: the unix socket (its file mode is the access control) or TCP. */
export type RequestOrigin = 'unix-socket' | 'tcp';

export interface ImportRootsSetting {
  /** `<state-dir>/imports`: always a root. */
  importsDir: string;
  /** BANGER_IMPORT_ROOTS, absolute dirs; null when it is not set. */
  configured: readonly string[] | null;
}

export interface ImportRoots {
  dirs: readonly string[];
  /** What to do about a path outside them. */
  hint: string;
}

/**
 * With BANGER_IMPORT_ROOTS set, every request is bound to `imports/` and those dirs. Without it, a
 * request over the unix socket may name any path (its users can already act as the daemon's
 * group), while one over TCP may only name files under `imports/`.
 */
export function importRootsFor(setting: ImportRootsSetting, origin: RequestOrigin): ImportRoots | null {
  const { importsDir, configured } = setting;
  if (configured !== null) {
    return {
      dirs: [importsDir, ...configured.filter((dir) => dir !== importsDir)],
      hint: `copy the file into ${importsDir} (or another of BANGER_IMPORT_ROOTS), or have the operator add its directory to BANGER_IMPORT_ROOTS`,
    };
  }
  if (origin === 'tcp') {
    return {
      dirs: [importsDir],
      hint: `requests over TCP may only name files under ${importsDir}: copy the file there, use the unix socket, or have the operator set BANGER_IMPORT_ROOTS`,
    };
  }
  return null;
}

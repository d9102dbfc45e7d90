import { chmod, mkdir } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';

/**
 * mkdir -p where every dir it creates gets exactly mode, whatever the process umask (the daemon's
 * is 077): trees that become guest filesystems must not inherit the host daemon's privacy.
 * Dirs that already exist are left as they are.
 */
export async function makeDirs(path: string, mode = 0o755): Promise<void> {
  const first = await mkdir(path, { recursive: true, mode });
  if (first === undefined) return;
  const top = resolve(first);
  for (let dir = resolve(path); ; dir = dirname(dir)) {
    await chmod(dir, mode);
    if (dir === top || dirname(dir) === dir) return;
  }
}

import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

// Code runs both from source (tsx) and from dist/, at different depths: find the package by walking up.
function findProjectRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(join(dir, 'package.json')) && existsSync(join(dir, 'migrations'))) return dir;
    const parent = dirname(dir);
    if (parent === dir) throw new Error('banger: cannot find the package root (package.json beside migrations/)');
    dir = parent;
  }
}

export const projectRoot = findProjectRoot();

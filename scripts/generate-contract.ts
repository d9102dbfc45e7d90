import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { projectRoot } from '../server/project-root.js';
import { contractFiles, renderContract } from './contract.js';

// `--check` only compares: CI fails when a schema changed without regenerating the contract.
const check = process.argv.includes('--check');
const rendered = await renderContract();
const targets: Array<[string, string]> = [
  [contractFiles.openapi, rendered.openapi],
  [contractFiles.clientTypes, rendered.clientTypes],
];
let drifted = false;
for (const [file, content] of targets) {
  const path = join(projectRoot, file);
  const current = await readFile(path, 'utf8').catch(() => '');
  if (current === content) continue;
  if (check) {
    console.error(`${file} is out of date: run npm run gen`);
    drifted = true;
  } else {
    await mkdir(dirname(path), { recursive: true });
    await writeFile(path, content);
    console.log(`wrote ${file}`);
  }
}
process.exitCode = drifted ? 1 : 0;

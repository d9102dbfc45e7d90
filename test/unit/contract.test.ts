import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import t from 'tap';
import { contractFiles, renderContract } from '../../scripts/contract.js';
import { projectRoot } from '../../server/project-root.js';

t.test('the committed OpenAPI contract and client types match the server schemas', async (t) => {
  const rendered = await renderContract();
  const committedOpenapi = await readFile(join(projectRoot, contractFiles.openapi), 'utf8');
  const committedTypes = await readFile(join(projectRoot, contractFiles.clientTypes), 'utf8');
  t.equal(committedOpenapi, rendered.openapi, `${contractFiles.openapi} is stale: run npm run gen and commit it`);
  t.equal(committedTypes, rendered.clientTypes, `${contractFiles.clientTypes} is stale: run npm run gen and commit it`);
});

t.test('every route has an operationId and documents its problems', async (t) => {
  const { openapi } = await renderContract();
  const operations = [...openapi.matchAll(/^ {4}(get|post|put|delete):\n((?: {6}.*\n)+)/gm)];
  t.ok(operations.length >= 10, `found ${operations.length} operations`);
  for (const [, method, body] of operations) {
    t.match(body, /operationId: \w+/, `${method} operation has an operationId`);
  }
});

// Swagger UI at /docs in a real browser: Debian's chromium (scripts/install-host-deps.sh) opens the
// page from the TCP listener's app without a token and must list every operation of openapi.yaml;
// a call made through it with the Authorize button's token must answer. The full-page screenshot
// is kept as test-artifacts/docs-ui.png, whether the checks pass or not.
import { existsSync } from 'node:fs';
import { mkdir, readFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { dirname, join } from 'node:path';
import { chromium, type Page } from 'playwright-core';
import t from 'tap';
import { parse } from 'yaml';
import { startApp } from '../helpers/app.js';
import { repoRoot } from '../helpers/daemon.js';

const chromiumPath = '/usr/bin/chromium';
// Generous: the UI parses the whole contract in the page, on a loaded 2-core machine.
const renderTimeoutMs = 60_000;
const screenshotPath = join(repoRoot, 'test-artifacts', 'docs-ui.png');
const token = 'docs-ui-token-0123456789abcdef';

t.setTimeout(4 * 60_000);

interface Operation {
  method: string;
  path: string;
  summary: string;
}

interface ContractOperation extends Operation {
  /** Swagger UI lists an operation once under each of its tags. */
  tags: number;
}

const httpMethods = new Set(['get', 'put', 'post', 'delete', 'patch', 'head', 'options', 'trace']);
const byRoute = (a: Operation, b: Operation) => `${a.path} ${a.method}`.localeCompare(`${b.path} ${b.method}`);

async function contractOperations(): Promise<ContractOperation[]> {
  const document = parse(await readFile(join(repoRoot, 'openapi.yaml'), 'utf8')) as { paths: Record<string, Record<string, { summary?: string; tags?: string[] }>> };
  return Object.entries(document.paths).flatMap(([path, operations]) =>
    Object.entries(operations)
      .filter(([method]) => httpMethods.has(method))
      .map(([method, operation]) => ({ method, path, summary: operation.summary ?? '', tags: Math.max(1, operation.tags?.length ?? 0) })),
  );
}

/** What the page shows for each operation, read through locators (the tests compile without the DOM library). */
async function renderedOperations(page: Page): Promise<Operation[]> {
  const read = { timeout: 5_000 };
  return Promise.all(
    (await page.locator('.opblock').all()).map(async (block) => ({
      method: ((await block.locator('.opblock-summary-method').textContent(read)) ?? '').toLowerCase(),
      path: (await block.locator('.opblock-summary-path').getAttribute('data-path', read)) ?? '',
      summary: ((await block.locator('.opblock-summary-description').textContent(read)) ?? '').trim(),
    })),
  );
}

t.test('Swagger UI at /docs lists every operation in headless Chromium', async (t) => {
  if (!existsSync(chromiumPath)) {
    t.fail(`${chromiumPath} is missing: run scripts/install-host-deps.sh (or apt-get install -y chromium) to install Debian's chromium`);
    return;
  }
  const started = Date.now();
  const operations = await contractOperations();
  const blocks = operations.reduce((sum, operation) => sum + operation.tags, 0);
  const app = await startApp(t, { token });
  // startApp's teardown closes the app, and with it this listener.
  await app.app.listen({ host: '127.0.0.1', port: 0 });
  const origin = `http://127.0.0.1:${(app.app.server.address() as AddressInfo).port}`;

  const browser = await chromium.launch({ executablePath: chromiumPath, headless: true, args: ['--no-sandbox'] });
  try {
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    const failures: string[] = [];
    page.on('requestfailed', (request) => failures.push(`${request.method()} ${request.url()}: ${request.failure()?.errorText ?? 'failed'}`));
    page.on('response', (response) => {
      if (response.status() >= 400) failures.push(`${response.request().method()} ${response.url()}: ${response.status()}`);
    });
    page.on('pageerror', (error) => failures.push(`page error: ${error.message}`));

    try {
      const response = await page.goto(`${origin}/docs`);
      t.equal(response?.status(), 200, 'GET /docs answers without a token');
      const last = page.locator('.opblock').nth(blocks - 1);
      try {
        await last.waitFor({ state: 'visible', timeout: renderTimeoutMs });
      } catch {
        t.fail(`Swagger UI showed ${await page.locator('.opblock').count()} of ${blocks} operation blocks within ${renderTimeoutMs / 1000} s`, { failures });
        return;
      }

      const rendered = await renderedOperations(page);
      t.equal(rendered.length, blocks, `${blocks} operation blocks: each operation once under each of its tags`);
      const distinct = [...new Map(rendered.map((operation) => [`${operation.method} ${operation.path}`, operation])).values()];
      t.equal(distinct.length, operations.length, `${operations.length} operations listed, as many as openapi.yaml has`);
      const listed = operations.map(({ method, path, summary }) => ({ method, path, summary }));
      t.same(distinct.sort(byRoute), listed.sort(byRoute), 'each by method, path and summary');
      for (const [method, path] of [['get', '/vms'], ['post', '/vms'], ['get', '/jobs/{id}']] as const) {
        const summary = operations.find((operation) => operation.method === method && operation.path === path)?.summary ?? '';
        const block = page.locator(`.opblock-${method}`).filter({ has: page.locator(`.opblock-summary-path[data-path="${path}"]`) });
        t.ok(await block.isVisible(), `${method.toUpperCase()} ${path} is visible`);
        t.equal((await block.locator('.opblock-summary-description').textContent())?.trim(), summary, `${method.toUpperCase()} ${path}: "${summary}"`);
      }

      // The token goes in through the Authorize button; "Try it out" then calls the listener that served the page.
      await page.locator('.auth-wrapper button.authorize').click();
      await page.locator('.modal-ux input').fill(token);
      await page.locator('.modal-ux .auth-btn-wrapper button.authorize').click();
      await page.locator('.modal-ux .auth-btn-wrapper button.btn-done').click();
      const health = page.locator('#operations-system-health');
      await health.locator('.opblock-summary').click();
      await health.locator('button.try-out__btn').click();
      const [answer] = await Promise.all([page.waitForResponse(`${origin}/healthz`), health.locator('button.execute').click()]);
      t.equal(answer.status(), 200, 'GET /healthz from "Try it out" answers 200');
      t.equal((await answer.request().allHeaders()).authorization, `Bearer ${token}`, 'with the token given to Authorize');
      await health.locator('.live-responses-table .response-col_status').first().waitFor({ timeout: 10_000 });
      // Folded again, so the screenshot shows the list.
      await health.locator('.opblock-summary').click();

      t.same(failures, [], 'no request of the page failed or answered 400 or more, and no script error');
    } finally {
      await mkdir(dirname(screenshotPath), { recursive: true });
      await page.screenshot({ path: screenshotPath, fullPage: true });
      t.comment(`screenshot: ${screenshotPath}`);
    }
  } finally {
    await browser.close();
    t.comment(`browser test took ${((Date.now() - started) / 1000).toFixed(1)} s`);
  }
});

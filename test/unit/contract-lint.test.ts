// The committed contract passes Spectral's OpenAPI rules and the OWASP API Security ruleset with no
// finding at all; the rules switched off, each with its reason, are in .spectral.yaml.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import t from 'tap';
import { run } from '../../server/host/runner.js';
import { projectRoot } from '../../server/project-root.js';

interface Finding {
  code: string;
  message: string;
  path: string[];
  severity: number;
}

const severities = ['error', 'warning', 'info', 'hint'];

t.test('openapi.yaml is lint-clean under spectral:oas and the OWASP ruleset', async (t) => {
  const spectral = join(projectRoot, 'node_modules', '.bin', 'spectral');
  const result = await run(spectral, ['lint', 'openapi.yaml', '--ruleset', '.spectral.yaml', '--format', 'json', '--fail-severity', 'hint', '--quiet'], {
    cwd: projectRoot,
    timeoutMs: 120_000,
    allowExitCodes: [1],
  });
  const findings = JSON.parse(result.stdout || '[]') as Finding[];
  const listed = findings.slice(0, 40).map((finding) => `${severities[finding.severity] ?? finding.severity} ${finding.code} at ${finding.path.join('.')}: ${finding.message}`);
  t.same(listed, [], `${findings.length} findings`);
  t.equal(result.exitCode, findings.length === 0 ? 0 : 1, 'spectral agrees');
});

t.test('the ruleset gives a reason for every rule it switches off', async (t) => {
  const lines = (await readFile(join(projectRoot, '.spectral.yaml'), 'utf8')).split('\n');
  const offs = lines.flatMap((line, index) => (/:\s*off\s*$/.test(line) ? [index] : []));
  t.ok(offs.length > 0);
  for (const index of offs) t.match(lines[index - 1] ?? '', /^\s*# \S.{20,}/, `a one-line reason above ${lines[index]?.trim()}`);
});

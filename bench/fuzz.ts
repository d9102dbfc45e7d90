/**
 * The full fuzzing run (issue #11): test/integration/api-fuzz.test.ts with 10,000 requests made
 * from openapi.yaml instead of CI's seeded 1,000, against a daemon with a built image, a
 * registered one and a running busybox VM. Prints the count per status and any rule an answer
 * broke (a 5xx, headers later than 2 s, a 4xx that is not a valid problem), then whether the
 * daemon stayed up and left no file or process behind.
 *
 *   npm run build && npx tsx bench/fuzz.ts [--count 10000] [--seed 1]
 */
import { spawnSync } from 'node:child_process';
import { parseArgs } from 'node:util';

const { values } = parseArgs({ options: { count: { type: 'string', default: '10000' }, seed: { type: 'string', default: '1' } } });
const result = spawnSync('npx', ['tap', '--reporter', 'tap', '--timeout', '3600', 'test/integration/api-fuzz.test.ts'], {
  env: { ...process.env, BANGER_FUZZ_COUNT: String(values.count), BANGER_FUZZ_SEED: String(values.seed) },
  stdio: 'inherit',
});
process.exitCode = result.status ?? 1;

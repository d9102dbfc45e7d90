// The bounds the contract states hold for what the code makes: cut text, problems, job stages
// and published ports.
import t from 'tap';
import { maxJobStages, maxJobTargets, maxStageNameLength } from '../../server/domain/job.js';
import { maxServices } from '../../server/domain/image.js';
import { clipText, maxFieldErrors, maxFieldLength, maxHintLength, maxMessageLength } from '../../server/domain/limits.js';
import { maxPorts } from '../../server/domain/vm.js';
import { maxVmPorts } from '../../server/schemas/vm.js';
import { boundedProblem, problemFor } from '../../server/services/errors.js';
import type { JobKind } from '../../server/services/jobs/job-kind.js';
import { plannedStages } from '../../server/services/jobs/stage-plan.js';
import * as imageJobs from '../../server/services/images/image-jobs.js';
import * as vmJobs from '../../server/services/vms/vm-jobs.js';
import { portRequestsFor } from '../../server/services/vms/vm-rows.js';

t.test('clipText keeps short text and cuts long text in the middle, within the bound', async (t) => {
  t.equal(clipText('short', 10), 'short');
  const long = `${'a'.repeat(5000)}${'b'.repeat(5000)}`;
  const clipped = clipText(long, 1000);
  t.ok(clipped.length <= 1000, `${clipped.length} ≤ 1000`);
  t.match(clipped, /^a+\n… \[\d+ characters cut\] …\nb+$/);
  const [, head = '', cut = '', tail = ''] = /^(a+)\n… \[(\d+) characters cut\] …\n(b+)$/.exec(clipped) ?? [];
  t.equal(head.length + Number(cut) + tail.length, long.length, 'the note counts what went');
  // Emoji are surrogate pairs: no half of one is left at either cut.
  const emoji = '😀'.repeat(2000);
  const cutEmoji = clipText(emoji, 999);
  t.ok(cutEmoji.length <= 999);
  t.notOk(/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/.test(cutEmoji), 'no lone surrogate');
  t.ok(clipText('x'.repeat(50), 5).length <= 5, 'a bound shorter than the note still holds');
});

t.test('problems stay within the contract whatever they are made from', async (t) => {
  const errors = Array.from({ length: 3 * maxFieldErrors }, (_, i) => ({ field: `f${i}${'x'.repeat(2 * maxFieldLength)}`, message: 'm'.repeat(2 * maxHintLength), hint: 'h'.repeat(2 * maxHintLength) }));
  const problem = problemFor('validation-failed', 'd'.repeat(3 * maxMessageLength), { hint: 'h'.repeat(2 * maxHintLength), errors });
  t.ok(problem.detail.length <= maxMessageLength);
  t.ok((problem.hint ?? '').length <= maxHintLength);
  t.equal(problem.errors?.length, maxFieldErrors);
  for (const error of problem.errors ?? []) {
    if (error.field.length > maxFieldLength || error.message.length > maxHintLength || (error.hint ?? '').length > maxHintLength) {
      t.fail(`field error over its bounds: ${error.field.length}, ${error.message.length}, ${error.hint?.length}`);
      return;
    }
  }
  t.same(boundedProblem(problemFor('not-found', 'small')), problemFor('not-found', 'small'), 'a small problem is left as it is');
});

t.test('every job kind fits the stage bounds, even over the most targets', async (t) => {
  const exported: unknown[] = [...Object.values(vmJobs), ...Object.values(imageJobs)];
  const kinds = exported.filter((value): value is JobKind => typeof value === 'object' && value !== null && 'stages' in value && 'eachTarget' in value);
  t.ok(kinds.length >= 10, `${kinds.length} kinds`);
  const targets = Array.from({ length: maxJobTargets }, (_, i) => ({ type: 'vm' as const, id: i.toString(16).padStart(64, '0'), name: 'n'.repeat(63) }));
  for (const kind of kinds) {
    const stages = plannedStages(kind, kind.eachTarget ? targets : targets.slice(0, 3));
    t.ok(stages.length <= maxJobStages, `${kind.name}: ${stages.length} stages ≤ ${maxJobStages}`);
    const longest = Math.max(...stages.map((stage) => stage.name.length));
    t.ok(longest <= maxStageNameLength, `${kind.name}: stage names ≤ ${maxStageNameLength}`);
  }
});

t.test('a VM publishes at most maxVmPorts ports', async (t) => {
  const requested = Array.from({ length: maxPorts }, (_, i) => 8000 + i);
  const services = Array.from({ length: maxServices }, (_, i) => ({ name: `s${i}`, command: 'x', port: 9000 + i, user: null }));
  t.equal(portRequestsFor(requested, { services }).length, maxVmPorts, 'SSH, every requested port, every service port');
  t.equal(portRequestsFor([22, ...requested.slice(1)], { services }).length, maxVmPorts - 1, 'SSH listed is still one port');
});

import t from 'tap';
import type { StoredStage } from '../../server/db/schema.js';
import { defineJobKind } from '../../server/services/jobs/job-kind.js';
import { endedStages } from '../../server/services/jobs/job-observer.js';
import { plannedStages, skipStage, startStage } from '../../server/services/jobs/stage-plan.js';

const pending = (name: string): StoredStage => ({ name, status: 'pending', startedAt: null, finishedAt: null });

t.test('a stage starts at the instant the one before it ends', async (t) => {
  let stages: StoredStage[] = [pending('a'), pending('b'), pending('c')];
  stages = startStage(stages, 'a');
  // Many transitions, so that some cross a millisecond boundary between readings of the clock.
  for (let round = 0; round < 2000; round++) {
    const next = startStage(stages, 'b');
    const [a, b] = next;
    if (a?.finishedAt !== b?.startedAt) {
      t.fail(`a ended at ${a?.finishedAt}, b started at ${b?.startedAt}`);
      return;
    }
    if (round === 1999) stages = next;
  }
  t.match(stages, [{ name: 'a', status: 'succeeded' }, { name: 'b', status: 'running' }, { name: 'c', status: 'pending' }]);
  t.throws(() => startStage(stages, 'a'), /already passed/);
});

t.test("ended stages, as metrics get them: the kind's stage name, how it ended, its seconds", async (t) => {
  const perTarget = defineJobKind('test.each', ['delete', 'forget'] as const, { eachTarget: true });
  const targets = [{ type: 'vm' as const, id: 'v1', name: 'web 1' }];
  const ran = (name: string, status: 'running' | 'succeeded', startedAt: string, finishedAt: string | null = null): StoredStage => ({ name, status, startedAt, finishedAt });
  const before = [ran('delete web 1', 'running', '2025-01-01T00:00:00.000Z'), pending('forget web 1')];
  const after = [ran('delete web 1', 'succeeded', '2025-01-01T00:00:00.000Z', '2025-01-01T00:00:02.500Z'), ran('forget web 1', 'running', '2025-01-01T00:00:02.500Z')];
  t.same(plannedStages(perTarget, targets).map((stage) => stage.name), ['delete web 1', 'forget web 1'], 'a target name with a space');
  t.same(endedStages(perTarget, before, after), [{ stage: 'delete', status: 'succeeded', seconds: 2.5 }]);
  t.same(endedStages(perTarget, after, after), [], 'a stage that had ended before is not reported again');
  t.same(endedStages(perTarget, before, skipStage(before, 'forget web 1', 'why')).map((ended) => ended.stage), ['delete'], 'a skipped stage never ran');

  t.throws(() => defineJobKind('test.spaced', ['clone disks'] as const), /has a space/, 'a stage name ends at the first space');
});

import t from 'tap';
import type { StoredStage } from '../../server/db/schema.js';
import { startStage } from '../../server/services/jobs/stage-plan.js';

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

// Where each step of the transform runs on Citus, read from its plan (EXPLAIN, under the run's
// settings, against the tables the run used: test/citus/plans.ts). The per-user step is one task per
// shard on the workers; a step that judges the loader's text rows (kept on the coordinator) may send
// them to the workers, but never fetches a distributed table's rows without them.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { sql } from 'kysely';
import { generate } from '../../tools/generate.js';
import { removeDir, run } from '../helpers.js';
import { citusDatabase, type CitusDatabase } from './support.js';
import { stepPlans } from './plans.js';

const SHARDS = 6;
let citus: CitusDatabase;
let dir: string;
before(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'lab-etl-citus-plans-'));
  await generate({ users: 2000, experiments: 20_000, compounds: 40, out: dir, seed: 5 });
  citus = await citusDatabase({ shardCount: SHARDS });
});
after(async () => {
  await citus?.close();
  await removeDir(dir);
});

/** Each task of a plan: the node it runs on and its plan text. */
function tasks(plan: string): { port: number; body: string }[] {
  const lines = plan.split('\n');
  const found: { port: number; body: string }[] = [];
  lines.forEach((line, i) => {
    const head = /^(\s*)-> {2}Task$/.exec(line);
    if (!head) return;
    const depth = head[1]!.length;
    const body: string[] = [];
    for (const next of lines.slice(i + 1)) {
      if (next.search(/\S/) <= depth) break;
      body.push(next);
    }
    const port = Number(/Node: host=\S+ port=(\d+)/.exec(body[0] ?? '')?.[1]);
    found.push({ port, body: body.join('\n') });
  });
  return found;
}

test('EXPLAIN of each step: the features step is one task per shard, pushed down whole; the text-row steps send their rows to the workers, never pull a table back', async () => {
  const result = await run(citus, dir);
  assert.equal(result.status, 'succeeded');
  const plans = await stepPlans(citus, result.run_id);
  assert.deepEqual(
    [...plans.keys()],
    ['users', 'compounds', 'experiments-parsed', 'experiment-compounds', 'experiments', 'user-features-by-half'],
  );
  const coordinatorPort = Number(new URL(citus.nodeUrls[0]!).port);

  const features = plans.get('user-features-by-half')!;
  assert.match(features, new RegExp(`^Custom Scan \\(Citus Adaptive\\)[^\\n]*\\n\\s+Task Count: ${SHARDS}\\n`), features);
  assert.doesNotMatch(features, /Distributed Subplan|pull to coordinator|repartition|read_intermediate_result/i, features);
  const [task] = tasks(features);
  assert.notEqual(task!.port, coordinatorPort, 'the features are computed on a worker');
  assert.match(task!.body, /Insert on user_features_run_\d+_\d+/, 'each task writes its own shard');

  for (const [step, plan] of plans) {
    assert.doesNotMatch(plan, /repartition/i, `${step}: no repartition\n${plan}`);
    for (const { port, body } of tasks(plan)) {
      if (port === coordinatorPort || step === 'user-features-by-half') continue;
      // A worker's task that reads a shard joins it with the rows the coordinator sent.
      if (/ on \w+_\d{6,}\b/.test(body)) assert.match(body, /read_intermediate_result/, `${step}: a shard is read whole\n${plan}`);
    }
  }
  // GET /data/users/:id reads one shard (the published run's id comes from the coordinator first).
  const { rows } = await sql<{ 'QUERY PLAN': string }>`EXPLAIN SELECT * FROM features.user_features WHERE user_id = 7`.execute(citus.db);
  const point = rows.map((r) => r['QUERY PLAN']).join('\n');
  assert.match(point, /^Custom Scan \(Citus Adaptive\)[\s\S]*\n {2}Task Count: 1\n/, point);
  assert.notEqual(tasks(point).at(-1)!.port, coordinatorPort, point);

  // The steps that judge text rows reach the workers only for the ids those rows name.
  for (const step of ['users', 'experiments-parsed', 'experiments']) {
    assert.ok(
      tasks(plans.get(step)!).some((t) => t.port !== coordinatorPort),
      `${step} asks the workers`,
    );
  }
});

// Retention after many runs: KEEP_RUNS (features of the newest successful runs, rejects of the
// newest runs) and KEEP_RUN_RECORDS (run records) really prune, and nothing is left behind.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { DbHandle } from '../../src/db/connect.js';
import { dataDir, query, removeDir, run, testDatabase } from '../helpers.js';

let database: DbHandle;
let dir: string;
before(async () => {
  database = await testDatabase();
  dir = await dataDir({});
});
after(async () => {
  await database.close();
  await removeDir(dir);
});

/** Users 1..n, one bad row (a reject) and one experiment each. */
async function files(n: number, fail: boolean) {
  const users = ['user_id,name,email,signup_date', 'x,Bad,bad@x,2023-01-01'];
  const experiments = ['experiment_id,user_id,experiment_compound_ids,experiment_run_time'];
  for (let i = 1; i <= n; i++) {
    users.push(`${i},U${i},u${i}@x,2023-01-01`);
    experiments.push(`${i},${i},1,${i}`);
  }
  // A run that fails: every user row is bad, far above MAX_REJECT_RATIO.
  await writeFile(
    path.join(dir, 'users.csv'),
    fail ? 'user_id,name,email,signup_date\nx,A,a@x,2023-01-01\ny,B,b@x,2023-01-01\n' : users.join('\n'),
  );
  await writeFile(path.join(dir, 'user_experiments.csv'), experiments.join('\n'));
}

const ids = async (text: string) => (await query<{ run_id: number }>(database, text)).map((r) => Number(r.run_id));
const partitions = (parent: string) =>
  ids(`SELECT substring(c.relname FROM '_run_([0-9]+)$')::bigint AS run_id FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
       WHERE i.inhparent = '${parent}'::regclass ORDER BY 1`);

// Nine runs show every kind of pruning several times over: features of 7 successful runs for 3 kept,
// rejects of 9 runs for 3, records of 9 for 6. A failed run (8) is among the three newest, whose
// rejects are kept, and between two of the successful runs whose features are kept.
test('after 9 runs (every fourth failing), only the newest are kept: features, rejects and records', async () => {
  const keep = { keepRuns: 3, keepRunRecords: 6 };
  const succeeded: number[] = [];
  const all: number[] = [];
  for (let i = 1; i <= 9; i++) {
    await files(10 + i, i % 4 === 0);
    const outcome = await run(database, dir, keep).then(
      (r) => ({ runId: r.run_id, ok: true }),
      (error: { runId: number }) => ({ runId: error.runId, ok: false }),
    );
    all.push(outcome.runId);
    if (outcome.ok) succeeded.push(outcome.runId);
  }
  const published = succeeded.at(-1)!;
  assert.deepEqual(await ids('SELECT run_id FROM etl.published'), [published]);

  // Features: the newest KEEP_RUNS successful runs; the other tables: the published run only.
  assert.deepEqual(await partitions('mart.user_features'), succeeded.slice(-3));
  for (const parent of ['core.users', 'core.compounds', 'core.experiments'])
    assert.deepEqual(await partitions(parent), [published], parent);
  assert.deepEqual(await ids('SELECT run_id FROM etl.runs_with_features ORDER BY 1'), succeeded.slice(-3));
  // Nothing detached and left behind.
  assert.deepEqual(
    await query(database, `SELECT relname FROM pg_class WHERE relname ~ '_run_[0-9]+$' AND relkind = 'r' AND NOT relispartition`),
    [],
  );
  // Each kept run's features are whole: n users for the run of n users.
  for (const runId of succeeded.slice(-3)) {
    const [counted] = await query<{ n: number; users: number }>(
      database,
      `SELECT count(*)::int AS n, (SELECT users::int FROM etl.runs WHERE run_id = $1) AS users FROM mart.user_features WHERE run_id = $1`,
      [runId],
    );
    assert.equal(counted!.n, counted!.users);
  }

  // Rejects: the newest KEEP_RUNS runs (a failed one has two); records: the newest KEEP_RUN_RECORDS.
  assert.deepEqual(await ids('SELECT DISTINCT run_id FROM etl.rejects ORDER BY 1'), all.slice(-3));
  assert.deepEqual(await ids('SELECT run_id FROM etl.runs ORDER BY 1'), all.slice(-6));
  assert.deepEqual(await ids('SELECT DISTINCT run_id FROM etl.run_files ORDER BY 1'), all.slice(-6));

  // Two kept runs compare in SQL: the newer has one more user.
  const [a, b] = succeeded.slice(-2);
  const diff = await query<{ user_id: number; change: string }>(database, 'SELECT user_id, change FROM etl.run_diff($1, $2)', [b, a]);
  assert.ok(diff.length >= 1 && diff.every((d) => d.change === 'added'), JSON.stringify(diff));
});

test('KEEP_RUN_RECORDS below KEEP_RUNS keeps KEEP_RUNS records, and the published run is kept whatever the failures after it', async () => {
  await database.close();
  database = await testDatabase();
  await files(5, false);
  const good = (await run(database, dir, { keepRuns: 2, keepRunRecords: 1 })).run_id;
  await files(5, true);
  const failed: number[] = [];
  for (let i = 0; i < 4; i++)
    failed.push(
      await run(database, dir, { keepRuns: 2, keepRunRecords: 1 }).then(
        () => assert.fail('the run should fail'),
        (error: { runId: number }) => error.runId,
      ),
    );
  assert.deepEqual(await ids('SELECT run_id FROM etl.runs ORDER BY 1'), [good, ...failed.slice(-2)]);
  assert.deepEqual(await ids('SELECT DISTINCT run_id FROM etl.rejects ORDER BY 1'), [good, ...failed.slice(-2)]);
  assert.ok((await partitions('mart.user_features')).includes(good));
});

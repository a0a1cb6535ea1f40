// The contract between the runner and sql/transform/ (see sql/transform/README.md): steps run in
// file order with the run id as $1, may come in any number, and never deadlock with the progress
// the runner records from other connections.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { cp, mkdtemp, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { DbHandle } from '../../src/db/connect.js';
import { TRANSFORM_DIR } from '../../src/db/sql-paths.js';
import type { RunProgress } from '../../src/run/pipeline.js';
import { CHALLENGE_DIR, features, removeDir, run, testDatabase } from '../helpers.js';

let database: DbHandle;
before(async () => {
  database = await testDatabase();
});
after(() => database.close());

async function transformWith(extra: Record<string, string>): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'lab-etl-transform-'));
  await cp(TRANSFORM_DIR, dir, { recursive: true });
  for (const [file, text] of Object.entries(extra)) await writeFile(path.join(dir, file), text);
  return dir;
}

test('steps added after the last one run, with and without the run id, and the run completes', { timeout: 60_000 }, async () => {
  const dir = await transformWith({ '995-noop.sql': 'SELECT 1', '996-uses-run-id.sql': 'SELECT $1::bigint AS run_id' });
  const seen: string[] = [];
  const onProgress = (p: RunProgress) => void (seen.at(-1) !== p.step && seen.push(p.step));
  const result = await run(database, CHALLENGE_DIR, { transformDir: dir, onProgress });
  assert.equal(result.status, 'succeeded');
  assert.deepEqual(seen.slice(-2), ['noop', 'uses-run-id'], 'each step is reported, in file order');
  assert.deepEqual([seen[0], seen[1]], ['checking files', 'loading']);
  assert.equal((await features(database)).average_experiments_per_user, 1.1);
  await removeDir(dir);
});

test('a step that asks for a second parameter is refused before anything runs', async () => {
  const dir = await transformWith({ '995-two-params.sql': 'SELECT $1::bigint, $2::bigint' });
  const before = await features(database);
  await assert.rejects(run(database, CHALLENGE_DIR, { transformDir: dir }), /995-two-params\.sql: steps take one parameter, \$1/);
  const [files] = await database.pool
    .query("SELECT sum(rows_read)::int AS n FROM etl.run_files f JOIN etl.runs r USING (run_id) WHERE r.status = 'failed'")
    .then((r) => r.rows);
  assert.equal(files.n, 0, 'no file was loaded');
  assert.deepEqual(await features(database), before);
  await removeDir(dir);
});

test('rejects of runs older than KEEP_RUNS are deleted; the published run keeps its own', async () => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'lab-etl-data-'));
  await cp(CHALLENGE_DIR, dir, { recursive: true });
  await writeFile(path.join(dir, 'users.csv'), 'user_id,name,email,signup_date\n1,A,a@x,2023-01-01\nx,B,b@x,2023-01-01\n');
  await writeFile(path.join(dir, 'user_experiments.csv'), 'experiment_id,user_id,experiment_compound_ids,experiment_run_time\n1,1,1,5\n');
  const runs = [];
  for (let i = 0; i < 3; i++) runs.push((await run(database, dir, { keepRuns: 2 })).run_id);
  const rejectsByRun = async () =>
    (await database.pool.query('SELECT run_id, count(*)::int AS n FROM etl.rejects GROUP BY run_id ORDER BY run_id')).rows;
  assert.deepEqual(await rejectsByRun(), [
    { run_id: runs[1], n: 1 },
    { run_id: runs[2], n: 1 },
  ]);

  // A failed run is the newest; with KEEP_RUNS=1 only it and the still-published run keep rejects.
  await writeFile(
    path.join(dir, 'users.csv'),
    'user_id,name,email,signup_date\nx,B,b@x,2023-01-01\n1,A,a@x,2023-01-01\ny,C,c@x,2023-01-01\n',
  );
  const failed = await run(database, dir, { keepRuns: 1 }).catch((error) => error);
  assert.match(failed.message, /users\.csv: 2 of 3 rows were rejected/);
  assert.deepEqual(await rejectsByRun(), [
    { run_id: runs[2], n: 1 },
    { run_id: failed.runId, n: 2 },
  ]);
  await removeDir(dir);
});

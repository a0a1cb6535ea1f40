// The SQL against an independent, deliberately naive TypeScript reading of the feature definitions,
// on generated data with heavy ties and skew.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { generate } from '../../tools/generate.js';
import type { DbHandle } from '../../src/db/connect.js';
import { sql } from 'kysely';
import { tuneTransaction } from '../../src/run/transform.js';
import { ROOT, features, run, testDatabase } from '../helpers.js';

let database: DbHandle;
let dir: string;
before(async () => {
  database = await testDatabase();
  dir = await mkdtemp(path.join(os.tmpdir(), 'lab-etl-ref-'));
});
after(async () => {
  await database.close();
  await rm(dir, { recursive: true, force: true });
});

async function rows(file: string): Promise<string[][]> {
  const lines = (await readFile(path.join(dir, file), 'utf8')).split('\r\n').filter((l) => l !== '');
  return lines.slice(1).map((l) => l.split(',\t'));
}

async function reference() {
  const users = await rows('users.csv');
  const compounds = new Map((await rows('compounds.csv')).map(([id, name]) => [Number(id), name!]));
  const experiments = await rows('user_experiments.csv');
  const result = users.map(([id, name, email]) => {
    const mine = experiments.filter((e) => Number(e[1]) === Number(id));
    const counts = new Map<number, number>();
    for (const e of mine) for (const c of new Set(e[2]!.split(';').map(Number))) counts.set(c, (counts.get(c) ?? 0) + 1);
    const best = Math.max(0, ...counts.values());
    const top = [...counts]
      .filter(([, n]) => n === best)
      .map(([c]) => c)
      .sort((a, b) => a - b);
    return {
      user_id: Number(id),
      name,
      email,
      total_experiments: mine.length,
      average_run_time: mine.length ? mine.reduce((s, e) => s + Number(e[3]), 0) / mine.length : null,
      top_compound_id: top[0] ?? null,
      top_compound_name: top.length ? compounds.get(top[0]!) : null,
      top_compound_ids: top,
      top_compound_experiments: top.length ? best : null,
    };
  });
  return { users: result.sort((a, b) => a.user_id - b.user_id), average: experiments.length / users.length };
}

for (const [seed, compounds] of [
  [1, 5],
  [7, 60],
] as const) {
  test(`generated data (seed ${seed}, ${compounds} compounds) matches the reference for every user`, async () => {
    await generate({ users: 400, experiments: 3000, compounds, out: dir, seed });
    const result = await run(database, dir);
    assert.equal(result.status, 'succeeded');
    const expected = await reference();
    const { users, average_experiments_per_user } = await features(database);
    assert.equal(average_experiments_per_user, expected.average);
    assert.equal(users.length, expected.users.length);
    assert.ok(
      expected.users.some((u) => u.top_compound_ids.length > 1),
      'the data has ties',
    );
    assert.ok(
      expected.users.some((u) => u.total_experiments === 0),
      'the data has users without experiments',
    );
    for (const [i, user] of users.entries()) {
      const want = expected.users[i]!;
      assert.ok(Math.abs((user.average_run_time ?? 0) - (want.average_run_time ?? 0)) < 1e-9, `user ${want.user_id} average`);
      assert.deepEqual({ ...user, average_run_time: null }, { ...want, average_run_time: null }, `user ${want.user_id}`);
    }
  });
}

/**
 * The plan of sql/transform/070-user-features-by-half.sql under the run's settings, explained
 * against the tables the run read (published by now as the run's partitions).
 */
async function featuresStepPlan(database: DbHandle, runId: number): Promise<string> {
  const step = await readFile(path.join(ROOT, 'sql/transform/070-user-features-by-half.sql'), 'utf8');
  const query = step
    .replace(/^CREATE TABLE \S+ AS$/m, '')
    .replaceAll('$1', String(runId))
    .replace(/\bwork\.(users|compounds|experiments)\b/g, (_, table: string) => `core.${table}_run_${runId}`);
  return database.db.transaction().execute(async (trx) => {
    await tuneTransaction(trx);
    const { rows } = await sql<{ 'QUERY PLAN': string }>`EXPLAIN ${sql.raw(query)}`.execute(trx);
    return rows.map((row) => row['QUERY PLAN']).join('\n');
  });
}

test('the features are the same whether the server grants the run parallel workers or none', async () => {
  await generate({ users: 3000, experiments: 30000, compounds: 40, out: dir, seed: 11 });
  // Free parallelism (for the planner) makes even this small data set run its halves in workers,
  // and would split its scans block by block too, were the run's settings not to forbid it.
  const free = { parallel_setup_cost: '0', parallel_tuple_cost: '0', min_parallel_table_scan_size: '0', min_parallel_index_scan_size: '0' };
  const parallel = await testDatabase(undefined, free);
  const serial = await testDatabase(undefined, { ...free, max_parallel_workers: '0' });
  try {
    const first = await run(parallel, dir);
    assert.equal(first.status, 'succeeded');
    assert.equal((await run(serial, dir)).status, 'succeeded');
    // Two halves side by side, each whole in one process: no block-by-block scan, no partial
    // aggregate (the workers may sort their finished rows for the leader to merge).
    const plan = await featuresStepPlan(parallel, first.run_id);
    assert.match(plan, /Gather( Merge)?[\s\S]*Workers Planned: 2[\s\S]*Parallel Append/);
    assert.doesNotMatch(plan, /Parallel (Seq|Index|Bitmap)|Partial|Finalize/);
    // Same users, counts, ties and, to the last bit, averages.
    const expected = await reference();
    const got = await features(parallel);
    const other = await features(serial);
    assert.deepEqual(got.users, other.users);
    assert.equal(got.average_experiments_per_user, other.average_experiments_per_user);
    assert.equal(got.users.length, expected.users.length);
    for (const [i, user] of got.users.entries()) {
      const want = expected.users[i]!;
      assert.ok(Math.abs((user.average_run_time ?? 0) - (want.average_run_time ?? 0)) < 1e-9, `user ${want.user_id} average`);
      assert.deepEqual({ ...user, average_run_time: null }, { ...want, average_run_time: null }, `user ${want.user_id}`);
    }
  } finally {
    await parallel.close();
    await serial.close();
  }
});

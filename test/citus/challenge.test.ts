import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { DbHandle } from '../../src/db/connect.js';
import { CHALLENGE_DIR, features, query, run, testDatabase } from '../helpers.js';
import { citusDatabase, type CitusDatabase } from './support.js';
import { csvBody, dataBody } from './compare.js';

let citus: CitusDatabase;
let plain: DbHandle;
before(async () => {
  [citus, plain] = await Promise.all([citusDatabase({ shardCount: 8 }), testDatabase()]);
});
after(() => Promise.all([citus?.close(), plain?.close()]));

test('on a Citus coordinator the service says so, with its workers and shards', async () => {
  assert.deepEqual(citus.mode, { kind: 'citus', workers: citus.nodeUrls.length - 1, shards: 8 });
  assert.deepEqual(plain.mode, { kind: 'postgresql' });
});

test('users, experiments and features are hash-distributed on user_id and colocated; compounds are a reference table', async () => {
  const rows = await query(
    citus,
    `SELECT logicalrelid::text AS t, partmethod, column_to_column_name(logicalrelid, partkey) AS col, colocationid, repmodel
     FROM pg_dist_partition WHERE logicalrelid::text IN ('core.users', 'core.experiments', 'mart.user_features', 'core.compounds')
     ORDER BY 1`,
  );
  const by = Object.fromEntries(rows.map((r) => [r.t, r]));
  for (const t of ['core.users', 'core.experiments', 'mart.user_features']) {
    assert.equal(by[t]?.partmethod, 'h', `${t} is hash-distributed`);
    assert.equal(by[t]?.col, 'user_id', `${t} is distributed on user_id`);
    assert.equal(by[t]?.colocationid, by['core.users']!.colocationid, `${t} is colocated with core.users`);
  }
  assert.equal(by['core.compounds']?.partmethod, 'n', 'core.compounds has no distribution column');
  assert.equal(by['core.compounds']?.repmodel, 't', 'core.compounds is a reference table');
  // Run records, migrations and rejects stay on the coordinator.
  const local = await query(citus, `SELECT count(*)::int AS n FROM pg_dist_partition WHERE logicalrelid::text LIKE 'etl.%'`);
  assert.equal(local[0]!.n, 0);
});

test("the challenge files give the same features on Citus as on PostgreSQL, byte for byte, and a run's partitions are distributed too", async () => {
  const [onCitus, onPlain] = await Promise.all([run(citus, CHALLENGE_DIR), run(plain, CHALLENGE_DIR)]);
  assert.equal(onCitus.status, 'succeeded');
  assert.deepEqual(onCitus.files, onPlain.files);
  assert.deepEqual(onCitus.features, onPlain.features);
  const answer = await features(citus);
  assert.equal(answer.average_experiments_per_user, 1.1);
  assert.deepEqual(
    answer.users.map((u) => [u.user_id, u.total_experiments, u.average_run_time, u.top_compound_ids]),
    [
      [1, 2, 12.5, [2]],
      [2, 1, 20, [1, 3]],
      [3, 1, 25, [2, 3]],
      [4, 1, 30, [1, 2, 3]],
      [5, 1, 35, [2, 3]],
      [6, 1, 40, [1, 3]],
      [7, 1, 45, [2, 3]],
      [8, 1, 50, [1, 2]],
      [9, 1, 55, [2, 3]],
      [10, 1, 60, [1, 3]],
    ],
  );
  assert.equal(await dataBody(citus), await dataBody(plain));
  assert.equal(await csvBody(citus), await csvBody(plain));

  const parts = await query(
    citus,
    `SELECT p.logicalrelid::text AS t, p.colocationid = (SELECT colocationid FROM pg_dist_partition WHERE logicalrelid = 'core.users'::regclass) AS colocated
     FROM pg_dist_partition p WHERE p.logicalrelid::text LIKE '%_run_${onCitus.run_id}' ORDER BY 1`,
  );
  assert.deepEqual(parts, [
    { t: 'core.experiments_run_' + onCitus.run_id, colocated: true },
    { t: 'core.users_run_' + onCitus.run_id, colocated: true },
    { t: 'mart.user_features_run_' + onCitus.run_id, colocated: true },
  ]);
});

test('a second run replaces the first: its partitions and compounds are retired, but for its features (KEEP_RUNS)', async () => {
  const first = Number((await query<{ run_id: number }>(citus, 'SELECT run_id FROM etl.published'))[0]!.run_id);
  const second = await run(citus, CHALLENGE_DIR);
  assert.equal(second.status, 'succeeded');
  const parts = await query(
    citus,
    `SELECT logicalrelid::text AS t FROM pg_dist_partition WHERE logicalrelid::text ~ '_run_[0-9]+$' ORDER BY 1`,
  );
  assert.deepEqual(
    parts.map((p) => p.t),
    [
      ...['core.experiments_run_', 'core.users_run_'].map((t) => t + second.run_id),
      ...[first, second.run_id].map((id) => 'mart.user_features_run_' + id),
    ],
  );
  // The two runs' features compare on Citus too: the same files, no difference.
  assert.deepEqual(await query(citus, `SELECT * FROM etl.run_diff(${second.run_id}, ${first})`), []);
  const compounds = await query(citus, 'SELECT DISTINCT run_id FROM core.compounds');
  assert.deepEqual(compounds, [{ run_id: second.run_id }]);
  assert.equal((await features(citus)).users.length, 10);
});

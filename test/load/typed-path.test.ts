// The loader's typing layer (src/load/typed-rows.ts) is only a fast path: rows it proves valid skip
// the SQL checks. It must never change a result. Hostile generated files are run with the fast path
// on and off (ETL_TYPED_FAST_PATH=0: every row is judged by the SQL) and every output must match:
// rejects (line, reason, raw, raw_bytes), the typed core rows and the features.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { DbHandle } from '../../src/db/connect.js';
import { dataDir, features, query, removeDir, run, testDatabase } from '../helpers.js';
import { IdSet } from '../../src/load/typed-rows.js';
import { hostileFiles } from '../hostile-files.js';

let database: DbHandle;
before(async () => {
  database = await testDatabase();
});
after(() => database.close());

/** Everything a run produced that the fast path could affect. */
async function outcome(runId: number) {
  const p = [runId];
  return {
    rejects: await query(database, 'SELECT file, line, reason, raw, raw_bytes FROM etl.rejects WHERE run_id = $1 ORDER BY file, line', p),
    users: await query(database, 'SELECT user_id, name, email, signup_date::text, line FROM core.users WHERE run_id = $1 ORDER BY line', p),
    compounds: await query(
      database,
      'SELECT compound_id, compound_name, compound_structure, line FROM core.compounds WHERE run_id = $1 ORDER BY line',
      p,
    ),
    experiments: await query(
      database,
      'SELECT experiment_id, user_id, compound_ids, run_time, line FROM core.experiments WHERE run_id = $1 ORDER BY line',
      p,
    ),
    features: (await features(database)).users,
  };
}

async function runWith(fastPath: boolean, dir: string) {
  const result = await run(database, dir, { maxRejectRatio: 1, typedFastPath: fastPath });
  assert.equal(result.status, 'succeeded');
  const textRows = await query<{ n: number }>(database, 'SELECT count(*)::int AS n FROM staging.experiments');
  return { result, textRows: textRows[0]!.n, ...(await outcome(result.run_id)) };
}

for (const seed of [1, 2, 3]) {
  test(
    `hostile files (seed ${seed}): the same rejects, core rows and features with and without the fast path`,
    { timeout: 120_000 },
    async () => {
      const dir = await dataDir(hostileFiles(seed));
      const fast = await runWith(true, dir);
      const slow = await runWith(false, dir);
      // Both paths carry plenty of rows (the text path also valid ones: late ids, odd spellings).
      assert.ok(fast.textRows < slow.textRows * 0.8 && fast.textRows > 300, `${fast.textRows} of ${slow.textRows} rows left as text`);
      assert.ok(fast.rejects.length > 100, 'the files are hostile enough to reject many rows');
      assert.deepEqual(fast.rejects, slow.rejects);
      assert.deepEqual(fast.users, slow.users);
      assert.deepEqual(fast.compounds, slow.compounds);
      assert.deepEqual(fast.experiments, slow.experiments);
      assert.deepEqual(fast.features, slow.features);
      assert.deepEqual(fast.result.files, slow.result.files);
      await removeDir(dir);
    },
  );
}

test(
  "IdSet's caps: once its record of ids overflows, out-of-order rows go to the SQL and the results stay the same",
  { timeout: 180_000 },
  async () => {
    // Ids from 2^27 up are kept in a Set of at most 100,000 (src/load/typed-rows.ts): one more and
    // "not recorded" no longer proves "not seen", so only an id above all earlier ones is typed.
    const B = 2 ** 27;
    const ids = new IdSet();
    for (let i = 1; i <= 100_000; i++) ids.add(B + i);
    assert.equal(ids.lossy, false);
    ids.add(B + 100_001);
    ids.add(7);
    assert.deepEqual([ids.lossy, ids.has(B + 100_001), ids.has(B + 5), ids.has(7)], [true, false, true, true]);

    const users = ['user_id,\tname,\temail,\tsignup_date'];
    for (let i = 1; i <= 100_001; i++) users.push(`${B + i},\tu,\te,\t2023-01-01`); // line i + 1
    users.push(`${B + 100_001},\tlost repeat,\te,\t2023-01-01`); // line 100003: repeats the id the Set could not keep
    users.push(`${B + 5},\tkept repeat,\te,\t2023-01-01`); // line 100004: repeats line 6
    users.push('7,\tlate,\te,\t2023-01-01'); // line 100005: new, but below the largest id so far
    const experiments = [
      'experiment_id,\tuser_id,\texperiment_compound_ids,\texperiment_run_time',
      `1,\t${B + 100_001},\t1,\t5`, // a user the typer's record of accepted users lost
      `2,\t${B + 1},\t1,\t5`,
      '3,\t7,\t1,\t5', // a user only the SQL accepted
    ];
    const dir = await dataDir({ users: users.join('\r\n'), experiments: experiments.join('\r\n') });
    const textRows = async () =>
      (
        await query<{ users: number; experiments: number }>(
          database,
          'SELECT (SELECT count(*)::int FROM staging.users) AS users, (SELECT count(*)::int FROM staging.experiments) AS experiments',
        )
      )[0];
    const fast = await runWith(true, dir);
    assert.deepEqual(
      await textRows(),
      { users: 3, experiments: 2 },
      'exactly the rows the overflowed record cannot vouch for went to the SQL',
    );
    const slow = await runWith(false, dir);
    assert.deepEqual(await textRows(), { users: 100_004, experiments: 3 });

    assert.deepEqual(fast.rejects, [
      {
        file: 'users.csv',
        line: 100_003,
        reason: `user_id ${B + 100_001} repeats the user on line 100002`,
        raw: users[100_002],
        raw_bytes: users[100_002]!.length,
      },
      {
        file: 'users.csv',
        line: 100_004,
        reason: `user_id ${B + 5} repeats the user on line 6`,
        raw: users[100_003],
        raw_bytes: users[100_003]!.length,
      },
    ]);
    const byId = new Map(fast.features.map((u) => [u.user_id, u]));
    assert.equal(byId.size, 100_002);
    assert.deepEqual([byId.get(B + 100_001)?.name, byId.get(B + 100_001)?.total_experiments], ['u', 1]);
    assert.deepEqual([byId.get(7)?.name, byId.get(7)?.total_experiments], ['late', 1]);
    assert.deepEqual(fast.rejects, slow.rejects);
    assert.deepEqual(fast.users, slow.users);
    assert.deepEqual(fast.experiments, slow.experiments);
    assert.deepEqual(fast.features, slow.features);
    await removeDir(dir);
  },
);

// The loader's typing layer (src/load/typed-rows.ts) is only a fast path: rows it proves valid skip
// the SQL checks. It must never change a result. Hostile generated files are run with the fast path
// on and off (ETL_TYPED_FAST_PATH=0: every row is judged by the SQL) and every output must match:
// rejects (line, reason, raw, raw_bytes), the typed core rows and the features.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { DbHandle } from '../src/db/handle.js';
import { dataDir, features, query, removeDir, run, testDatabase } from './helpers.js';
import { hostileFiles } from './hostile-files.js';

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
    compounds: await query(database, 'SELECT compound_id, compound_name, compound_structure, line FROM core.compounds WHERE run_id = $1 ORDER BY line', p),
    experiments: await query(database, 'SELECT experiment_id, user_id, compound_ids, run_time, line FROM core.experiments WHERE run_id = $1 ORDER BY line', p),
    features: (await features(database)).users,
  };
}

async function runWith(fastPath: boolean, dir: string) {
  const previous = process.env.ETL_TYPED_FAST_PATH;
  process.env.ETL_TYPED_FAST_PATH = fastPath ? '1' : '0';
  try {
    const result = await run(database, dir, { maxRejectRatio: 1 });
    assert.equal(result.status, 'succeeded');
    const textRows = await query<{ n: number }>(database, 'SELECT count(*)::int AS n FROM staging.experiments');
    return { result, textRows: textRows[0]!.n, ...(await outcome(result.run_id)) };
  } finally {
    if (previous === undefined) delete process.env.ETL_TYPED_FAST_PATH;
    else process.env.ETL_TYPED_FAST_PATH = previous;
  }
}

for (const seed of [1, 2, 3]) {
  test(`hostile files (seed ${seed}): the same rejects, core rows and features with and without the fast path`, { timeout: 120_000 }, async () => {
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
  });
}

// Hostile generated files (test/hostile-files.ts) on Citus and on plain PostgreSQL: every answer a
// reader can get must be the same, byte for byte, and so must every reject (line, reason, raw line).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { DbHandle } from '../../src/db/connect.js';
import { getSummary } from '../../src/read/summary.js';
import { getUserJson } from '../../src/read/features.js';
import { dataDir, query, removeDir, run, testDatabase } from '../helpers.js';
import { hostileFiles } from '../hostile-files.js';
import { citusDatabase, type CitusDatabase } from './support.js';
import { csvBody, dataBody, rejectsOf } from './compare.js';

let citus: CitusDatabase;
let plain: DbHandle;
before(async () => {
  // Citus's own shard count (32 unless the cluster says otherwise), as a service without CITUS_SHARD_COUNT gets.
  [citus, plain] = await Promise.all([citusDatabase(), testDatabase()]);
});
after(() => Promise.all([citus?.close(), plain?.close()]));

async function runBoth(dir: string, fastPath: boolean) {
  const previous = process.env.ETL_TYPED_FAST_PATH;
  process.env.ETL_TYPED_FAST_PATH = fastPath ? '1' : '0';
  try {
    // One after the other: the fast-path switch is read when a run starts its load.
    const onCitus = await run(citus, dir, { maxRejectRatio: 1 });
    const onPlain = await run(plain, dir, { maxRejectRatio: 1 });
    return { onCitus, onPlain };
  } finally {
    if (previous === undefined) delete process.env.ETL_TYPED_FAST_PATH;
    else process.env.ETL_TYPED_FAST_PATH = previous;
  }
}

for (const [seed, fastPath] of [
  [1, true],
  [2, true],
  [3, false],
] as const) {
  test(
    `hostile files (seed ${seed}, typing fast path ${fastPath ? 'on' : 'off'}): the same GET /data bytes, CSV, summary, users and rejects as on PostgreSQL`,
    { timeout: 180_000 },
    async () => {
      const dir = await dataDir(hostileFiles(seed));
      const { onCitus, onPlain } = await runBoth(dir, fastPath);
      assert.equal(onCitus.status, 'succeeded');
      assert.deepEqual(onCitus.files, onPlain.files);
      assert.deepEqual(onCitus.features, onPlain.features);
      const rejects = await rejectsOf(citus, onCitus.run_id);
      assert.ok(rejects.length > 100, 'the files are hostile enough to reject many rows');
      assert.deepEqual(rejects, await rejectsOf(plain, onPlain.run_id));

      const body = await dataBody(citus);
      assert.ok(body.length > 10_000);
      assert.equal(body, await dataBody(plain));
      assert.equal(await dataBody(citus, { limit: 37, after: 50 }), await dataBody(plain, { limit: 37, after: 50 }));
      assert.equal(await csvBody(citus), await csvBody(plain));
      const { run_id: _a, ...summaryCitus } = await getSummary(citus.readers.db);
      const { run_id: _b, ...summaryPlain } = await getSummary(plain.readers.db);
      assert.deepEqual(summaryCitus, summaryPlain);
      for (const id of [1, 2, 3, 77, 150, 399, 100_000]) {
        assert.deepEqual(await getUserJson(citus, id), await getUserJson(plain, id), `user ${id}`);
      }
      // Sanity: the features are really on the workers, not in coordinator tables.
      const [placed] = await query(
        citus,
        `SELECT count(DISTINCT nodeport)::int AS nodes FROM citus_shards WHERE table_name = $1::regclass`,
        [`mart.user_features_run_${onCitus.run_id}`],
      );
      assert.equal(placed!.nodes, citus.nodeUrls.length - 1);
      await removeDir(dir);
    },
  );
}

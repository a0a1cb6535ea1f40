// Publishing on Citus: readers see the previous run or the new one, whole, never a mix, while runs
// publish back to back; and older runs are retired.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { generate } from '../../tools/generate.js';
import { getUserJson } from '../../src/read/features.js';
import { getSummary } from '../../src/read/summary.js';
import { query, removeDir, run } from '../helpers.js';
import { citusDatabase, type CitusDatabase } from './support.js';
import { dataBody } from './compare.js';

let citus: CitusDatabase;
let root: string;
before(async () => {
  root = await mkdtemp(path.join(os.tmpdir(), 'lab-etl-citus-publish-'));
  await generate({ users: 600, experiments: 6000, compounds: 30, out: path.join(root, 'a'), seed: 21 });
  await generate({ users: 900, experiments: 4000, compounds: 30, out: path.join(root, 'b'), seed: 22 });
  citus = await citusDatabase({ shardCount: 4 });
});
after(async () => {
  await citus?.close();
  await removeDir(root);
});

test('readers during back-to-back publishes see one whole run or the other, never a mix', { timeout: 300_000 }, async () => {
  const a = path.join(root, 'a');
  const b = path.join(root, 'b');
  assert.equal((await run(citus, a)).status, 'succeeded');
  const bodyA = await dataBody(citus);
  const userA = await getUserJson(citus, 7);
  const usersA = (await getSummary(citus.readers.db)).users;
  assert.equal((await run(citus, b)).status, 'succeeded');
  const bodyB = await dataBody(citus);
  const userB = await getUserJson(citus, 7);
  const usersB = (await getSummary(citus.readers.db)).users;
  assert.notEqual(bodyA, bodyB);
  assert.notDeepEqual(userA, userB);
  assert.notEqual(usersA, usersB);

  let publishing = true;
  const seen = { a: 0, b: 0, points: 0 };
  const readers = Array.from({ length: 3 }, async (_, i) => {
    while (publishing) {
      if (i === 2) {
        const user = await getUserJson(citus, 7);
        assert.ok(
          JSON.stringify(user) === JSON.stringify(userA) || JSON.stringify(user) === JSON.stringify(userB),
          `user 7 is one run's: ${JSON.stringify(user)}`,
        );
        seen.points++;
      } else {
        const body = await dataBody(citus);
        const users = (b: string) => (b.match(/"user_id":/g) ?? []).length;
        assert.ok(
          body === bodyA || body === bodyB,
          `GET /data is one whole run: ${users(body)} users, against ${users(bodyA)} and ${users(bodyB)}; ${body.slice(0, 120)}`,
        );
        if (body === bodyA) seen.a++;
        else seen.b++;
      }
    }
  });
  const runs = (async () => {
    try {
      for (const dir of [a, b, a, b]) assert.equal((await run(citus, dir)).status, 'succeeded');
    } finally {
      publishing = false;
    }
  })();
  await Promise.all([runs, ...readers]);
  assert.ok(seen.a > 0 && seen.b > 0, `readers saw both runs (${JSON.stringify(seen)})`);

  // Retired: only the published run's core partitions and compounds are left (the last run's retire
  // may have given way to a reader; the next run finishes it).
  assert.equal((await run(citus, b)).status, 'succeeded');
  const [published] = await query<{ run_id: number }>(citus, 'SELECT run_id FROM etl.published');
  const parts = await query<{ t: string }>(
    citus,
    `SELECT logicalrelid::text AS t FROM pg_dist_partition WHERE logicalrelid::text ~ '_run_[0-9]+$'`,
  );
  const runsOf = (prefix: string) => new Set(parts.filter((p) => p.t.startsWith(prefix)).map((p) => p.t.replace(/.*_run_/, '')));
  assert.deepEqual(runsOf('core.'), new Set([String(published!.run_id)]), 'core tables: the published run only');
  // Features are kept for the newest KEEP_RUNS (20) successful runs, to compare them: here, all of them.
  const succeeded = await query<{ run_id: number }>(citus, `SELECT run_id FROM etl.runs WHERE status = 'succeeded'`);
  assert.deepEqual(runsOf('mart.user_features_run_'), new Set(succeeded.map((r) => String(r.run_id))), 'features: every successful run');
  assert.deepEqual(await query(citus, 'SELECT DISTINCT run_id FROM core.compounds'), [{ run_id: published!.run_id }]);
});

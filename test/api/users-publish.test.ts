// GET /data/users during back-to-back publishes: every page is wholly one run's, in that run's
// order, never a mix (each answer reads one snapshot of the published run, src/read/users.ts); a
// cursor from a run replaced since is refused, never read against the new run.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { generate } from '../../tools/generate.js';
import type { DbHandle } from '../../src/db/connect.js';
import { CursorError, listUsers } from '../../src/read/users.js';
import { removeDir, run, testDatabase } from '../helpers.js';

let database: DbHandle;
let root: string;
before(async () => {
  database = await testDatabase();
  root = await mkdtemp(path.join(os.tmpdir(), 'lab-etl-users-publish-'));
  await generate({ users: 1500, experiments: 4000, compounds: 20, out: path.join(root, 'a'), seed: 31 });
  await generate({ users: 1500, experiments: 5000, compounds: 25, out: path.join(root, 'b'), seed: 32 });
});
after(async () => {
  await database?.close();
  await removeDir(root);
});

test('pages read during back-to-back publishes are each wholly one run, in its order', { timeout: 400_000 }, async () => {
  // Each data set's experiment counts, from a page read while it alone is published.
  const counts: Record<'a' | 'b', Map<number, number>> = { a: new Map(), b: new Map() };
  const runOf = new Map<number, 'a' | 'b'>();
  for (const name of ['a', 'b'] as const) {
    const record = await run(database, path.join(root, name));
    runOf.set(record.run_id, name);
    const page = await listUsers(database.readers.db, { sort: 'user_id', dir: 'asc', limit: 500 });
    for (let p = page; ;) {
      for (const u of p.users) counts[name].set(u.user_id, u.total_experiments);
      if (!p.next) break;
      p = await listUsers(database.readers.db, { sort: 'user_id', dir: 'asc', limit: 500, after: p.next });
    }
    assert.equal(counts[name].size, 1500);
  }
  // Run ids are given in order: the i-th publish below is run last + 1 + i.
  const last = Math.max(...runOf.keys());
  for (let i = 0; i < 6; i++) runOf.set(last + 1 + i, i % 2 === 0 ? 'a' : 'b');
  let publishing = true;
  const seen = { a: 0, b: 0, stale: 0 };
  const problems: string[] = [];
  const reader = async () => {
    while (publishing) {
      const page = await listUsers(database.readers.db, { sort: 'total_experiments', dir: 'desc', limit: 200 });
      const name = runOf.get(page.run_id!);
      if (!name) {
        problems.push(`run ${page.run_id} unknown`);
        continue;
      }
      seen[name]++;
      const values = page.users.map((u) => u.total_experiments);
      if (page.users.length !== 200) problems.push(`run ${page.run_id}: ${page.users.length} users`);
      for (const u of page.users)
        if (counts[name].get(u.user_id) !== u.total_experiments) problems.push(`user ${u.user_id} not as in run ${name}`);
      if (values.some((v, i) => i > 0 && v > values[i - 1]!)) problems.push(`run ${page.run_id}: not in order`);
      await listUsers(database.readers.db, { sort: 'total_experiments', dir: 'desc', limit: 200, after: page.next! }).then(
        (next) => {
          if (next.run_id !== page.run_id) problems.push('a cursor was read against another run');
        },
        (error: unknown) => {
          if (error instanceof CursorError) seen.stale++;
          else throw error;
        },
      );
    }
  };
  const publishes = (async () => {
    try {
      for (let i = 0; i < 6; i++) {
        const record = await run(database, path.join(root, i % 2 === 0 ? 'a' : 'b'));
        assert.equal(runOf.get(record.run_id), i % 2 === 0 ? 'a' : 'b');
      }
    } finally {
      publishing = false;
    }
  })();
  await Promise.all([publishes, reader(), reader()]);
  assert.deepEqual(problems.slice(0, 5), []);
  assert.ok(seen.a > 0 && seen.b > 0, `pages of both runs were read (${JSON.stringify(seen)})`);
});

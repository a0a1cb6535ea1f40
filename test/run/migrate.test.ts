import { after, before, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { cp, mkdtemp, readdir, rm, writeFile, appendFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { DbHandle } from '../../src/db/connect.js';
import { migrate, MigrationError } from '../../src/db/migrate.js';
import { SQL_DIR } from '../../src/db/sql-paths.js';
import { CHALLENGE_DIR, query, run, testDatabase } from '../helpers.js';

let database: DbHandle;
before(async () => {
  database = await testDatabase(); // already migrated once
});
after(() => database.close());

const scripts = async () => (await readdir(SQL_DIR)).filter((f) => /^\d{6}-.*\.sql$/.test(f)).sort();

/**
 * A migrated database and a copy of sql/ that only this test changes, so no test sees another's
 * scripts or records.
 */
async function scratch(t: TestContext) {
  const own = await testDatabase();
  const copy = await mkdtemp(path.join(os.tmpdir(), 'lab-etl-sql-'));
  t.after(async () => {
    await own.close();
    await rm(copy, { recursive: true, force: true });
  });
  await cp(SQL_DIR, copy, { recursive: true });
  return { pool: own.pool, copy };
}

test('every script is recorded once, with its checksum', async () => {
  const rows = await query<{ name: string; checksum: string }>(database, 'SELECT name, checksum FROM etl.migrations ORDER BY name');
  assert.deepEqual(
    rows.map((r) => r.name),
    await scripts(),
  );
  assert.ok(rows.every((r) => /^[0-9a-f]{64}$/.test(r.checksum)));
});

test('running the migrations again, even concurrently, changes nothing and keeps the data', async () => {
  await run(database, CHALLENGE_DIR);
  const results = await Promise.all([migrate(database.pool), migrate(database.pool), migrate(database.pool)]);
  assert.deepEqual(results, [[], [], []]);
  const [row] = await query(database, 'SELECT count(*) AS users FROM features.user_features');
  assert.deepEqual(row, { users: 10 });
});

test('a new script is applied once, after the others', async (t) => {
  const { pool, copy } = await scratch(t);
  await writeFile(path.join(copy, '999999-extra.sql'), 'CREATE TABLE etl.extra_for_test (x int);');
  assert.deepEqual(await migrate(pool, copy), ['999999-extra.sql']);
  assert.deepEqual(await migrate(pool, copy), []);
  assert.deepEqual((await pool.query("SELECT to_regclass('etl.extra_for_test') IS NOT NULL AS made")).rows, [{ made: true }]);
});

test('a database a newer version migrated (a script this checkout lacks) stops start-up saying what to do', async (t) => {
  const { pool, copy } = await scratch(t);
  await writeFile(path.join(copy, '999999-extra.sql'), 'CREATE TABLE etl.extra_for_test (x int);');
  assert.deepEqual(await migrate(pool, copy), ['999999-extra.sql']);
  await rm(path.join(copy, '999999-extra.sql'));
  await assert.rejects(migrate(pool, copy), (error: unknown) => {
    assert.ok(error instanceof MigrationError);
    assert.equal(
      error.message,
      'this database was migrated by a newer version of lab-features-etl (it has sql/999999-extra.sql, this version does not): run that version or a later one, or restore the backup made before the upgrade (docs/day-two.md#upgrade-and-rollback)',
    );
    return true;
  });
});

test('a script changed after it was applied stops start-up with its name', async (t) => {
  const { pool, copy } = await scratch(t);
  const [first] = await scripts();
  await appendFile(path.join(copy, first!), '\n-- edited\n');
  await assert.rejects(migrate(pool, copy), /sql\/000001-runs\.sql changed after it was applied to this database/);
  await cp(path.join(SQL_DIR, first!), path.join(copy, first!));
  assert.deepEqual(await migrate(pool, copy), []);
});

test('a new script that sorts before applied ones is refused', async (t) => {
  const { pool, copy } = await scratch(t);
  await writeFile(path.join(copy, '000000-early.sql'), 'SELECT 1;');
  await assert.rejects(migrate(pool, copy), /sql\/000000-early\.sql is new but sorts before/);
});

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { cp, mkdtemp, readdir, rm, writeFile, appendFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { DbHandle } from '../src/db/handle.js';
import { migrate, MigrationError } from '../src/db/migrate.js';
import { SQL_DIR } from '../src/db/paths.js';
import { CHALLENGE_DIR, query, run, testDatabase } from './helpers.js';

let database: DbHandle;
let copy: string;
before(async () => {
  database = await testDatabase(); // already migrated once
  copy = await mkdtemp(path.join(os.tmpdir(), 'lab-etl-sql-'));
  await cp(SQL_DIR, copy, { recursive: true });
});
after(async () => {
  await database.close();
  await rm(copy, { recursive: true, force: true });
});

const scripts = async () => (await readdir(SQL_DIR)).filter((f) => /^\d{6}-.*\.sql$/.test(f)).sort();

test('every script is recorded once, with its checksum', async () => {
  const rows = await query<{ name: string; checksum: string }>(database, 'SELECT name, checksum FROM etl.migrations ORDER BY name');
  assert.deepEqual(rows.map((r) => r.name), await scripts());
  assert.ok(rows.every((r) => /^[0-9a-f]{64}$/.test(r.checksum)));
});

test('running the migrations again, even concurrently, changes nothing and keeps the data', async () => {
  await run(database, CHALLENGE_DIR);
  const results = await Promise.all([migrate(database.pool), migrate(database.pool), migrate(database.pool)]);
  assert.deepEqual(results, [[], [], []]);
  const [row] = await query(database, 'SELECT count(*) AS users FROM features.user_features');
  assert.deepEqual(row, { users: 10 });
});

test('a new script is applied once, after the others', async () => {
  await writeFile(path.join(copy, '999999-extra.sql'), 'CREATE TABLE etl.extra_for_test (x int);');
  assert.deepEqual(await migrate(database.pool, copy), ['999999-extra.sql']);
  assert.deepEqual(await migrate(database.pool, copy), []);
  await rm(path.join(copy, '999999-extra.sql'));
});

test('a script removed after it was applied stops start-up with its name', async () => {
  await assert.rejects(migrate(database.pool, copy), (error: unknown) => {
    assert.ok(error instanceof MigrationError);
    assert.equal(error.message, 'sql/999999-extra.sql was applied to this database but is missing from sql/');
    return true;
  });
  await query(database, "DELETE FROM etl.migrations WHERE name = '999999-extra.sql'");
});

test('a script changed after it was applied stops start-up with its name', async () => {
  const [first] = await scripts();
  await appendFile(path.join(copy, first!), '\n-- edited\n');
  await assert.rejects(migrate(database.pool, copy), /sql\/000001-runs\.sql changed after it was applied to this database/);
  await cp(path.join(SQL_DIR, first!), path.join(copy, first!));
  assert.deepEqual(await migrate(database.pool, copy), []);
});

test('a new script that sorts before applied ones is refused', async () => {
  await writeFile(path.join(copy, '000000-early.sql'), 'SELECT 1;');
  await assert.rejects(migrate(database.pool, copy), /sql\/000000-early\.sql is new but sorts before/);
  await rm(path.join(copy, '000000-early.sql'));
});

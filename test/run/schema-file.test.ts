import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import type { DbHandle } from '../../src/db/connect.js';
import { SCHEMA_FILE } from '../../src/db/sql-paths.js';
import { dumpSchema, dumpVersion } from '../../src/db/schema-dump.js';
import { CHALLENGE_DIR, query, run, testDatabase } from '../helpers.js';

let database: DbHandle;
before(async () => {
  database = await testDatabase(); // freshly migrated
});
after(async () => {
  await database.close();
});

/**
 * What two dumps by different major versions still have in common: PostgreSQL 16 stopped
 * qualifying the columns of a one-table view and 17 quotes `json`, so on another version than the
 * file's, identifier quotes and, in view bodies, qualifiers are ignored. On the file's own version
 * the comparison is exact.
 */
function comparable(dump: string, acrossVersions: boolean): string[] {
  const lines = dump.split('\n').slice(1); // the first line names the version
  if (!acrossVersions) return lines;
  let inView = false;
  return lines.map((line) => {
    const unquoted = line.replace(/"([a-z_][a-z0-9_]*)"/g, '$1');
    if (line.startsWith('CREATE VIEW ')) {
      inView = true;
      return unquoted;
    }
    if (line === '') inView = false;
    return inView ? unquoted.replace(/\b[a-z_][a-z0-9_]*\.(?=[a-z_*])/g, '') : unquoted;
  });
}

function assertSame(file: string, live: string) {
  const acrossVersions = dumpVersion(file) !== dumpVersion(live);
  const want = comparable(file, acrossVersions);
  const got = comparable(live, acrossVersions);
  const at = want.findIndex((line, i) => line !== got[i]);
  const differs = at !== -1 || want.length !== got.length;
  const where = at === -1 ? Math.min(want.length, got.length) : at;
  assert.ok(
    !differs,
    `sql/schema.sql is not the schema the migrations make: run \`npm run schema\` and commit it ` +
      `(first difference at line ${where + 2}: file has ${JSON.stringify(want[where])}, ` +
      `PostgreSQL ${dumpVersion(live)} gives ${JSON.stringify(got[where])})`,
  );
}

test('sql/schema.sql is the schema after all migrations (else: npm run schema)', async () => {
  const file = await readFile(SCHEMA_FILE, 'utf8');
  assert.ok(dumpVersion(file), 'sql/schema.sql names the PostgreSQL version that wrote it on its first line');
  assertSame(file, await dumpSchema(database.pool));
});

test('a change to the schema makes the check fail, naming the command', async () => {
  const file = await readFile(SCHEMA_FILE, 'utf8');
  await query(database, 'CREATE TABLE etl.extra_for_schema_test (x int)');
  try {
    const changed = await dumpSchema(database.pool);
    assert.match(changed, /CREATE TABLE etl\.extra_for_schema_test \(\n {2}x integer\n\);/);
    assert.throws(() => assertSame(file, changed), /run `npm run schema`.*extra_for_schema_test/s);
  } finally {
    await query(database, 'DROP TABLE etl.extra_for_schema_test');
  }
});

test("a run's partitions, work tables and loaded tables are not part of the schema", async () => {
  const before = await dumpSchema(database.pool);
  await run(database, CHALLENGE_DIR);
  const [{ partitions }] = (await query<{ partitions: number }>(
    database,
    "SELECT count(*)::int AS partitions FROM pg_class WHERE relispartition AND relname LIKE '%\\_run\\_%'",
  )) as [{ partitions: number }];
  assert.ok(partitions >= 4, `the run left its partitions (${partitions})`);
  assert.equal(await dumpSchema(database.pool), before);
});

test('an object the dump cannot render fails the dump instead of being left out', async () => {
  await query(database, 'CREATE SEQUENCE etl.extra_for_schema_test');
  try {
    await assert.rejects(dumpSchema(database.pool), /does not render relation of kind S etl\.extra_for_schema_test/);
  } finally {
    await query(database, 'DROP SEQUENCE etl.extra_for_schema_test');
  }
});

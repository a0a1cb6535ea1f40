// Each shape the API answers is written once, as a zod schema in src/http/schemas.ts (the TypeScript
// types are z.infer of it). The SQL that produces it and the CSV export list its fields again:
// these tests hold every such list to the schema's keys, in the same order.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { Reject, Summary, UserFeatures } from '../../src/http/schemas.js';
import type { DbHandle } from '../../src/db/connect.js';
import { CSV_COLUMNS, featuresCsv } from '../../src/read/features.js';
import { CHALLENGE_DIR, query, run, testDatabase } from '../helpers.js';

let database: DbHandle;
before(async () => {
  database = await testDatabase(); // freshly migrated
});
after(() => database.close());

async function columns(relation: string, without: string[] = []) {
  const [schema, name] = relation.split('.');
  const rows = await query<{ column_name: string }>(
    database,
    'SELECT column_name FROM information_schema.columns WHERE table_schema = $1 AND table_name = $2 ORDER BY ordinal_position',
    [schema, name],
  );
  assert.ok(rows.length > 0, `${relation} exists`);
  return rows.map((r) => r.column_name).filter((c) => !without.includes(c));
}

test('a user: the features view, the mart table, the zod schema and the CSV columns are the same list', async () => {
  const keys = Object.keys(UserFeatures.shape);
  assert.deepEqual(await columns('features.user_features'), keys, 'features.user_features (sql/000005) vs UserFeatures');
  // Beside a user's fields the table holds the run, the stored JSON and the features page's sort keys.
  const stored = ['run_id', 'json', 'name_key', 'email_key', 'top_compound_key'];
  assert.deepEqual(await columns('mart.user_features', stored), keys, 'mart.user_features vs UserFeatures');
  assert.deepEqual([...CSV_COLUMNS], keys, 'CSV_COLUMNS (src/read/features.ts) vs UserFeatures');
});

test("a user as served: the stored JSON and the CSV header have the schema's fields, in order", async () => {
  await run(database, CHALLENGE_DIR);
  const keys = Object.keys(UserFeatures.shape);
  const rows = await query<{ json: string }>(database, 'SELECT json FROM features.user_features_json ORDER BY user_id');
  assert.equal(rows.length, 10);
  for (const { json } of rows) assert.deepEqual(Object.keys(JSON.parse(json)), keys);
  let csv = '';
  for await (const chunk of featuresCsv(database.readers.streams)) csv += chunk;
  assert.equal(csv.slice(0, csv.indexOf('\r\n')), keys.join(','));
});

test("a summary and a reject: the views and table behind them have the schema's fields", async () => {
  const histogram = Summary.shape.histogram.element;
  const top = Summary.shape.top_compounds.element;
  assert.deepEqual(await columns('features.experiments_histogram'), Object.keys(histogram.shape));
  assert.deepEqual(await columns('features.top_compound_users'), Object.keys(top.shape));
  assert.deepEqual(await columns('etl.rejects', ['run_id']), Object.keys(Reject.shape));
});

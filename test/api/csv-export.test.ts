// GET /data.csv and GET /data with Accept: text/csv: the JSON answer's users as RFC 4180 CSV.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { parse } from 'csv-parse/sync';
import { createApp } from '../../src/api/app.js';
import type { DbHandle } from '../../src/db/connect.js';
import { CSV_COLUMNS, featuresCsv, type UserFeatures } from '../../src/read/features.js';
import { dataDir, options, removeDir, testDatabase } from '../helpers.js';

let database: DbHandle;
let app: ReturnType<typeof createApp>;
let dir: string;

// Names that need quoting (comma, quotes, a line break), spaces kept inside quotes, a user with no
// experiments (nulls), a tie, a compound name with a comma.
const USERS = [
  'user_id,name,email,signup_date',
  '1,"Doe, Jane",jane@example.org,2023-01-01',
  '2,"say ""hi""",hi@example.org,2023-01-02',
  '3,"two\r\nlines",ml@example.org,2023-01-03',
  '4,Plain,plain@example.org,2023-01-04',
  '5," spaced ",s@example.org,2023-01-05',
  '6,Zoë 🧪,z@example.org,2023-01-06',
  '7,"lone\nLF and lone\rCR",lf@example.org,2023-01-07',
].join('\r\n');
const COMPOUNDS = [
  'compound_id,compound_name,compound_structure',
  '1,Aspirin,C9H8O4',
  '2,"Caffeine, anhydrous",C8H10N4O2',
  '3,Ibuprofen,C13H18O2',
].join('\r\n');
const EXPERIMENTS = [
  'experiment_id,user_id,experiment_compound_ids,experiment_run_time',
  '1,1,1;2,10',
  '2,1,2,20',
  '3,2,1;3,5',
  '4,3,2,1e3',
  '5,5,3,8.25',
  '6,6,3;1,0',
].join('\r\n');

before(async () => {
  database = await testDatabase();
  dir = await dataDir({ users: USERS, compounds: COMPOUNDS, experiments: EXPERIMENTS });
  app = createApp(database, options(dir));
  const posted = await app.request('/data', { method: 'POST' });
  assert.equal(posted.status, 200, await posted.text());
});
after(async () => {
  await database.close();
  await removeDir(dir);
});

const json = async (url: string) =>
  (await (await app.request(url)).json()) as { run: { run_id: number }; average_experiments_per_user: number; users: UserFeatures[] };

/** A CSV record back to the JSON answer's types: empty is null, top_compound_ids a list. */
function typed(record: Record<string, string>): UserFeatures {
  const number = (text: string) => (text === '' ? null : Number(text));
  return {
    user_id: Number(record.user_id),
    name: record.name!,
    email: record.email!,
    total_experiments: Number(record.total_experiments),
    average_run_time: number(record.average_run_time!),
    top_compound_id: number(record.top_compound_id!),
    top_compound_name: record.top_compound_name === '' ? null : record.top_compound_name!,
    top_compound_ids: record.top_compound_ids === '' ? [] : record.top_compound_ids!.split(';').map(Number),
    top_compound_experiments: number(record.top_compound_experiments!),
  };
}

test('GET /data.csv reads back with csv-parse to exactly the users of GET /data', async () => {
  const expected = await json('/data');
  assert.equal(expected.users.length, 7);
  const response = await app.request('/data.csv');
  assert.equal(response.status, 200);
  assert.equal(response.headers.get('content-type'), 'text/csv; charset=utf-8; header=present');
  assert.equal(response.headers.get('x-run-id'), String(expected.run.run_id));
  assert.equal(Number(response.headers.get('x-average-experiments-per-user')), expected.average_experiments_per_user);
  const text = await response.text();

  const rows = parse(text, { columns: false }) as string[][];
  assert.deepEqual(rows[0], [...CSV_COLUMNS], 'a header row with the JSON field names, in order');
  const records = parse(text, { columns: true }) as Record<string, string>[];
  assert.deepEqual(records.map(typed), expected.users);

  // RFC 4180 on the wire: CRLF line ends, quotes doubled, fields with a comma or line break quoted.
  assert.ok(text.endsWith('\r\n'));
  assert.ok(text.includes('\r\n1,"Doe, Jane",jane@example.org,2,15,2,"Caffeine, anhydrous",2,2\r\n'), text);
  assert.ok(text.includes('\r\n2,"say ""hi""",'));
  assert.ok(text.includes('\r\n3,"two\r\nlines",'));
  assert.ok(text.includes('\r\n4,Plain,plain@example.org,0,,,,,\r\n'), 'nulls and an empty list are empty fields');
  assert.ok(text.includes('\r\n5, spaced ,'));
  assert.ok(text.includes('\r\n6,Zoë 🧪,z@example.org,1,0,1,Aspirin,1;3,1\r\n'), 'a tie is a ;-separated list');
  assert.ok(text.includes('\r\n7,"lone\nLF and lone\rCR",'), 'a lone LF or CR is quoted too');
});

test('Accept: text/csv on GET /data answers the same CSV; JSON stays the default', async () => {
  const csv = await (await app.request('/data.csv')).text();
  const negotiated = await app.request('/data', { headers: { accept: 'text/csv' } });
  assert.match(negotiated.headers.get('content-type') ?? '', /^text\/csv/);
  assert.equal(await negotiated.text(), csv);
  for (const accept of ['*/*', 'application/json', 'text/csv;q=0.5, application/json', 'text/html,*/*;q=0.8']) {
    const response = await app.request('/data', { headers: { accept } });
    assert.match(response.headers.get('content-type') ?? '', /^application\/json/, accept);
    await response.text();
  }
});

test('?limit=&after= page the CSV like the JSON, each page with its header row', async () => {
  for (const query of ['limit=2&after=1', 'after=4', 'limit=1', 'limit=5&after=7']) {
    const expected = await json(`/data?${query}`);
    const response = await app.request(`/data.csv?${query}`);
    const text = await response.text();
    assert.equal(text.split('\r\n')[0], CSV_COLUMNS.join(','), query);
    assert.deepEqual((parse(text, { columns: true }) as Record<string, string>[]).map(typed), expected.users, query);
  }
  const head = await app.request('/data.csv', { method: 'HEAD' });
  assert.equal(head.status, 200);
  assert.match(head.headers.get('content-type') ?? '', /^text\/csv/);
});

test('CSV answers go through the stream limit: 503 with Retry-After when no slot is free', async () => {
  const full = createApp(
    { ...database, readers: { ...database.readers, limits: { ...database.readers.limits, maxStreams: 0 } } },
    options(dir),
  );
  for (const [url, accept] of [
    ['/data.csv', '*/*'],
    ['/data', 'text/csv'],
  ] as const) {
    const response = await full.request(url, { headers: { accept } });
    assert.equal(response.status, 503, url);
    assert.equal(response.headers.get('retry-after'), '5');
    assert.match(((await response.json()) as any).error, /streaming slots are in use/);
  }
});

test('the CSV is produced a batch of users at a time, never whole', async () => {
  const many = await dataDir({
    users: [
      'user_id,name,email,signup_date',
      ...Array.from({ length: 12_000 }, (_, i) => `${i + 1},User ${i + 1},u${i + 1}@example.org,2023-01-01`),
    ].join('\n'),
    experiments: 'experiment_id,user_id,experiment_compound_ids,experiment_run_time\n1,1,1,10',
  });
  try {
    assert.equal((await createApp(database, options(many)).request('/data', { method: 'POST' })).status, 200);
    const chunks: string[] = [];
    for await (const chunk of featuresCsv(database.readers.streams)) chunks.push(chunk);
    const rowsPerChunk = chunks.map((chunk) => chunk.split('\r\n').length - 1);
    assert.deepEqual(rowsPerChunk, [1, ...Array<number>(24).fill(500)], 'the header, then one chunk per page of 500 users');
    assert.equal((parse(chunks.join(''), { columns: true }) as unknown[]).length, 12_000);
  } finally {
    await removeDir(many);
  }
});

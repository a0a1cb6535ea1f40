import { after, before, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { stat } from 'node:fs/promises';
import path from 'node:path';
import { createApp } from '../../src/api/app.js';
import type { DbHandle } from '../../src/db/connect.js';
import { CHALLENGE_DIR, SAMPLE_DIR, dataDir, options, removeDir, testDatabase } from '../helpers.js';

// Each test makes the features it reads (a run of its own), so none depends on another having run
// first; the two that must see a database no run has touched get one of their own (fresh()).
let database: DbHandle;
let app: ReturnType<typeof createApp>;
const callOn = async (on: ReturnType<typeof createApp>, method: string, url: string) => {
  const response = await on.request(url, { method });
  return { status: response.status, type: response.headers.get('content-type'), body: (await response.json()) as any };
};
const call = (method: string, url: string) => callOn(app, method, url);

before(async () => {
  database = await testDatabase();
  app = createApp(database, options(SAMPLE_DIR));
});
after(() => database.close());

/** `call` on a database no run has touched (the sample set in DATA_DIR), for one test. */
async function fresh(t: TestContext) {
  const own = await testDatabase();
  t.after(() => own.close());
  const ownApp = createApp(own, options(SAMPLE_DIR));
  return (method: string, url: string) => callOn(ownApp, method, url);
}

/** Publishes the files in `dir` through POST /data. */
async function publish(dir: string) {
  const response = await createApp(database, options(dir)).request('/data', { method: 'POST' });
  const body = (await response.json()) as any;
  assert.equal(response.status, 200, JSON.stringify(body));
  return body;
}

test('before any run: empty features, 404 for users and runs, health ok', async (t) => {
  const call = await fresh(t);
  assert.deepEqual((await call('GET', '/data')).body, { run: null, average_experiments_per_user: null, users: [] });
  assert.deepEqual(await call('GET', '/data/users/1'), {
    status: 404,
    type: 'application/json',
    body: { error: 'no user 1 in the published features' },
  });
  assert.deepEqual((await call('GET', '/runs')).body, { runs: [] });
  assert.equal((await call('GET', '/runs/1')).status, 404);
  assert.equal((await call('GET', '/runs/1/rejects')).status, 404);
  assert.deepEqual(await call('GET', '/health'), { status: 200, type: 'application/json', body: { status: 'ok', database: 'postgresql' } });
});

test('POST /data runs the sample set and GET /data serves it', async (t) => {
  const call = await fresh(t);
  const posted = await call('POST', '/data');
  assert.equal(posted.status, 200);
  assert.equal(posted.body.status, 'succeeded');
  assert.equal(typeof posted.body.run_id, 'number');
  assert.equal(typeof posted.body.duration_ms, 'number');
  assert.deepEqual(posted.body.features, { users: 12, experiments: 21, average_experiments_per_user: 1.75 });
  assert.deepEqual(posted.body.files['user_experiments.csv'], { bytes: 405, rows_read: 21, rows_loaded: 21, rows_rejected: 0 });

  const data = await call('GET', '/data');
  assert.equal(data.body.run.run_id, posted.body.run_id);
  assert.equal(data.body.average_experiments_per_user, 1.75);
  assert.deepEqual(
    data.body.users.map((u: any) => u.user_id),
    [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12],
  );
  // Worked out by hand from data/user_experiments.csv.
  assert.deepEqual(data.body.users[0], {
    user_id: 1,
    name: 'Marie Curie',
    email: 'marie.curie@example.org',
    total_experiments: 3,
    average_run_time: 13.5,
    top_compound_id: 2,
    top_compound_name: 'Caffeine',
    top_compound_ids: [2],
    top_compound_experiments: 3,
  });
  const tops = Object.fromEntries(
    data.body.users.map((u: any) => [u.user_id, [u.total_experiments, u.top_compound_ids, u.top_compound_experiments]]),
  );
  assert.deepEqual(tops, {
    1: [3, [2], 3],
    2: [3, [3], 3], // 12;3 + 3;12 + 5;3: compound 3 in all three, 12 in two
    3: [2, [4, 5], 1],
    4: [2, [1, 2], 2],
    5: [1, [12], 1],
    6: [2, [4, 5], 2],
    7: [1, [3], 1],
    8: [3, [2, 5, 12], 2],
    9: [1, [1, 12], 1],
    10: [1, [3, 4], 1], // 4;4;3: a repeated compound counts once
    11: [2, [1, 2, 5, 12], 1],
    12: [0, [], null],
  });

  const user = await call('GET', '/data/users/8');
  assert.deepEqual([user.status, user.body.top_compound_id, user.body.top_compound_name], [200, 2, 'Caffeine']);
  const runs = await call('GET', '/runs');
  assert.deepEqual(
    runs.body.runs.map((r: any) => r.run_id),
    [posted.body.run_id],
  );
  assert.deepEqual((await call('GET', `/runs/${posted.body.run_id}`)).body, posted.body);
  assert.deepEqual((await call('GET', `/runs/${posted.body.run_id}/rejects`)).body, {
    run_id: posted.body.run_id,
    limit: 1000,
    offset: 0,
    rejected: [],
  });
});

test('two runs over the same files give identical features', async () => {
  await publish(SAMPLE_DIR);
  const first = (await call('GET', '/data')).body;
  assert.equal((await call('POST', '/data')).status, 200);
  const second = (await call('GET', '/data')).body;
  assert.notEqual(second.run.run_id, first.run.run_id);
  assert.deepEqual(second.users, first.users);
  assert.equal(second.average_experiments_per_user, first.average_experiments_per_user);
});

test('concurrent triggers: one runs, the other gets 409 with its run id', async () => {
  const [a, b] = await Promise.all([call('POST', '/data'), call('POST', '/data')]);
  const statuses = [a.status, b.status].sort();
  assert.deepEqual(statuses, [200, 409]);
  const [ok, busy] = a.status === 200 ? [a, b] : [b, a];
  assert.equal(busy.body.run_id, ok.body.run_id);
  assert.match(busy.body.error, new RegExp(`run ${ok.body.run_id} is in progress`));
});

test('unusable input answers 422 naming the file and the run is recorded as failed', async () => {
  await publish(SAMPLE_DIR);
  const dir = await dataDir({});
  await removeDir(path.join(dir, 'compounds.csv'));
  const broken = createApp(database, options(dir));
  const response = await broken.request('/data', { method: 'POST' });
  const body = (await response.json()) as any;
  assert.equal(response.status, 422);
  assert.equal(body.error, 'compounds.csv: the file is missing from the data directory');
  const run = await call('GET', `/runs/${body.run_id}`);
  assert.deepEqual([run.body.status, run.body.error], ['failed', body.error]);
  assert.equal((await call('GET', '/data')).body.users.length, 12, 'the previous results are still served');
  await removeDir(dir);
});

test('rejects page through limit and offset', async () => {
  const dir = await dataDir({
    users: [
      ['user_id', 'name', 'email', 'signup_date'],
      ['1', 'A', 'a', '2023-01-01'],
      ...['x', 'y', 'z'].map((id) => [id, 'B', 'b', '2023-01-01']),
    ],
  });
  const response = await createApp(database, options(dir, { maxRejectRatio: 1 })).request('/data', { method: 'POST' });
  const runId = ((await response.json()) as any).run_id;
  const page = await call('GET', `/runs/${runId}/rejects?limit=2&offset=1`);
  assert.deepEqual(
    page.body.rejected.map((r: any) => [r.file, r.line]),
    [
      ['users.csv', 4],
      ['users.csv', 5],
    ],
  );
  assert.equal((await call('GET', `/runs/${runId}/rejects?limit=0`)).status, 400);
  assert.equal((await call('GET', `/runs/${runId}/rejects?offset=-1`)).status, 400);
  await removeDir(dir);
});

test('bad ids and unknown routes answer JSON errors without internals', async () => {
  for (const url of ['/data/users/abc', '/data/users/0', '/data/users/99999999999999999999', '/runs/1.5', '/runs/-1/rejects']) {
    const r = await call('GET', url);
    assert.equal(r.status, 400, url);
    assert.match(r.body.error, /is not a valid id/);
  }
  assert.deepEqual(await call('GET', '/nope'), { status: 404, type: 'application/json', body: { error: 'no route for GET /nope' } });
  assert.equal((await call('DELETE', '/data')).status, 405);
  assert.equal((await call('GET', '/data/users/4242')).status, 404);
});

test('the challenge files through the API give the average 1.1', async () => {
  await publish(CHALLENGE_DIR);
  assert.equal((await call('GET', '/data')).body.average_experiments_per_user, 1.1);
});

test('GET /data pages by user_id with limit and after, in the same shape', async () => {
  await publish(CHALLENGE_DIR); // ten users, 1 to 10
  const pages = [];
  for (let after = 0, i = 0; i < 5; i++) {
    const page = await call('GET', `/data?limit=5&after=${after}`);
    assert.equal(page.status, 200);
    pages.push(page.body.users.map((u: any) => u.user_id));
    assert.equal(page.body.average_experiments_per_user, 1.1);
    if (page.body.next_after === null) break;
    after = page.body.next_after;
  }
  assert.deepEqual(pages, [[1, 2, 3, 4, 5], [6, 7, 8, 9, 10], []]);
  assert.deepEqual(
    (await call('GET', '/data?after=8')).body.users.map((u: any) => u.user_id),
    [9, 10],
  );
  for (const bad of ['limit=0', 'limit=100001', 'limit=x', 'after=-1', 'after=1e3']) {
    assert.equal((await call('GET', `/data?${bad}`)).status, 400, bad);
  }
});

test('no request can point the service at other files, and bodies are bounded', async () => {
  const tries = [
    app.request('/data?dir=/etc&data_dir=..&file=../../etc/passwd', { method: 'POST' }),
    app.request('/data', {
      method: 'POST',
      body: JSON.stringify({ dataDir: '/etc', DATA_DIR: '/' }),
      headers: { 'content-type': 'application/json' },
    }),
  ];
  // What DATA_DIR holds: a run that read any other file would show other sizes or row counts.
  const sample = async (file: string, rows: number) => {
    const bytes = (await stat(path.join(SAMPLE_DIR, file))).size;
    return [file, { bytes, rows_read: rows, rows_loaded: rows, rows_rejected: 0 }];
  };
  const expected = Object.fromEntries(
    await Promise.all([sample('users.csv', 12), sample('compounds.csv', 6), sample('user_experiments.csv', 21)]),
  );
  for (const response of await Promise.all(tries)) {
    if (response.status === 409) continue; // the two raced each other: either way neither read elsewhere
    assert.equal(response.status, 200);
    assert.deepEqual(((await response.json()) as any).files, expected);
  }
  assert.equal((await call('GET', '/data')).body.users.length, 12, 'the sample set in DATA_DIR was read');
  const big = await app.request('/data', { method: 'POST', body: 'x'.repeat(64 * 1024), headers: { 'content-length': String(64 * 1024) } });
  assert.equal(big.status, 413);
});

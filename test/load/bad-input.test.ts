// Hostile and broken input through the HTTP API: a clear answer naming the file (and line),
// nothing lost, the previous features still served, and the service still answering afterwards.
import { after, before, beforeEach, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { chmod, mkdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { createApp } from '../../src/api/app.js';
import type { DbHandle } from '../../src/db/connect.js';
import { CHALLENGE_DIR, ROOT, dataDir, options, removeDir, testDatabase } from '../helpers.js';
import { nodeArgs } from '../service.js';

const exec = promisify(execFile);
let database: DbHandle;

before(async () => {
  database = await testDatabase();
});
// Every test starts with the challenge's features published, whatever the test before it published.
beforeEach(async () => {
  const response = await createApp(database, options(CHALLENGE_DIR)).request('/data', { method: 'POST' });
  assert.equal(response.status, 200);
});
after(() => database.close());

/** POSTs /data on `dir`; when it fails, checks the previous features are served unchanged. */
async function post(dir: string, extra: Parameters<typeof options>[1] = {}) {
  const app = createApp(database, options(dir, extra));
  const before = await (await app.request('/data')).text();
  const response = await app.request('/data', { method: 'POST' });
  const body = (await response.json()) as { error?: string; run_id: number; status?: string };
  if (response.status !== 200) {
    assert.ok((await (await app.request('/data')).text()) === before, 'the previous features are still served');
  }
  assert.equal((await app.request('/health')).status, 200);
  assert.doesNotMatch(JSON.stringify(body), /\bat .*\.(ts|js):\d+|SELECT |INSERT |postgres:\/\//, 'no stack, SQL or URL');
  return { status: response.status, body, app };
}

async function rejects(app: ReturnType<typeof createApp>, runId: number, query = '') {
  const response = await app.request(`/runs/${runId}/rejects${query}`);
  return ((await response.json()) as { rejected: { file: string; line: number; reason: string; raw: string; raw_bytes: number | null }[] })
    .rejected;
}

test('DATA_DIR missing', async () => {
  const { status, body } = await post('/nonexistent/lab-data');
  assert.equal(status, 422);
  // Named by its setting, not by the server's absolute path (which the log keeps).
  assert.equal(body.error, 'DATA_DIR: the data directory does not exist or is not a directory');
});

test('a file that is a directory', async () => {
  const dir = await dataDir({});
  await rm(path.join(dir, 'users.csv'));
  await mkdir(path.join(dir, 'users.csv'));
  const { status, body } = await post(dir);
  assert.deepEqual([status, body.error], [422, 'users.csv: is not a regular file']);
  await removeDir(dir);
});

test('an unreadable file (permissions), through the CLI', async () => {
  const dir = await dataDir({});
  await chmod(path.join(dir, 'compounds.csv'), 0o000);
  // root reads any file through its capabilities: as root, the CLI runs without them.
  const asUser = process.getuid?.() === 0 ? ['setpriv', '--bounding-set=-all', '--inh-caps=-all'] : [];
  const command = [...asUser, process.execPath, ...nodeArgs('src/cli.ts')];
  const failure = await exec(command[0]!, command.slice(1), {
    cwd: ROOT,
    env: { ...process.env, DATABASE_URL: database.url, DATA_DIR: dir },
  }).then(
    () => null,
    (error: { code: number; stderr: string }) => error,
  );
  assert.equal(failure?.code, 2);
  assert.match(failure!.stderr, /^etl: compounds\.csv: the file is not readable \(permission denied\)$/m);
  await removeDir(dir);
});

test('an empty file (0 bytes) fails; a header-only file fails unless empty data sets are allowed', async () => {
  const empty = await dataDir({ compounds: '' });
  const { status, body } = await post(empty);
  assert.deepEqual([status, body.error], [422, 'compounds.csv: the file is empty: it has no header line']);
  await removeDir(empty);

  const noUsers = await dataDir({ users: 'user_id,\tname,\temail,\tsignup_date\r\n\r\n \r\n' });
  const refused = await post(noUsers);
  assert.equal(refused.status, 422);
  assert.match(refused.body.error!, /^users\.csv: the file has no data rows, only a header; .*ALLOW_EMPTY=1/);
  await removeDir(noUsers);

  const headerOnly = await dataDir({ experiments: 'experiment_id,\tuser_id,\texperiment_compound_ids,\texperiment_run_time' });
  assert.match((await post(headerOnly)).body.error!, /^user_experiments\.csv: the file has no data rows/);
  const ok = await post(headerOnly, { allowEmpty: true });
  assert.equal(ok.status, 200);
  const features = (await (await ok.app.request('/data')).json()) as any;
  assert.deepEqual([features.average_experiments_per_user, features.users[0].total_experiments], [0, 0]);
  await removeDir(headerOnly);
});

test('header problems: missing column, duplicate column', async () => {
  const missing = await dataDir({ users: 'user_id,\tname,\tsignup_date\r\n1,\tA,\t2023-01-01' });
  assert.deepEqual(
    (await post(missing)).body.error,
    'users.csv, line 1: missing required column "email" (the header has: user_id, name, signup_date)',
  );
  const twice = await dataDir({ users: '\r\nuser_id,\tname,\temail,\tname,\tsignup_date\r\n1,\tA,\ta@x,\tB,\t2023-01-01' });
  assert.deepEqual((await post(twice)).body.error, 'users.csv, line 2: the header names column "name" twice');
  await Promise.all([removeDir(missing), removeDir(twice)]);
});

test('binary garbage as a whole file', async () => {
  const dir = await dataDir({});
  await writeFile(path.join(dir, 'user_experiments.csv'), randomBytes(64 * 1024));
  const { status, body } = await post(dir);
  assert.equal(status, 422);
  assert.match(body.error!, /^user_experiments\.csv, line \d+: /);
  await removeDir(dir);
});

test('invalid UTF-8, NUL bytes and an unterminated quote become rejects with their lines', async () => {
  const dir = await dataDir({});
  const header = Buffer.from('user_id,\tname,\temail,\tsignup_date\r\n1,\tAnn,\ta@x,\t2023-01-01\r\n2,\tB');
  const lines = [
    header,
    Buffer.from([0xff, 0xfe]),
    Buffer.from(',\tb@x,\t2023-01-01\r\n3,\tC\0,\tc@x,\t2023-01-01\r\n'),
    Buffer.from('4,\tD,\td@x,\t2023-01-01\r\n5,\t"Eve, unterminated,\te@x,\t2023-01-01'),
  ];
  await writeFile(path.join(dir, 'users.csv'), Buffer.concat(lines));
  const { status, body, app } = await post(dir, { maxRejectRatio: 1 });
  assert.equal(status, 200);
  // Of a line the loader could keep only a preview of, the byte count is unknown (null).
  assert.deepEqual(
    (await rejects(app, body.run_id)).map((r) => [r.line, r.reason, r.raw_bytes]),
    [
      [3, 'is not valid UTF-8', null],
      [4, 'contains a NUL byte', null],
      [6, 'has a quoted field that is never closed', Buffer.byteLength('5,\t"Eve, unterminated,\te@x,\t2023-01-01')],
    ],
  );
  const users = ((await (await app.request('/data')).json()) as any).users.map((u: any) => u.user_id);
  assert.deepEqual(users, [1, 4]);
  await removeDir(dir);
});

test('a single 100 MB line with no newline: rejected, and memory stays bounded', async () => {
  const dir = await dataDir({});
  const file = createWriteStream(path.join(dir, 'users.csv'));
  file.write('user_id,\tname,\temail,\tsignup_date\r\n1,\tAnn,\ta@x,\t2023-01-01\r\n2,\t');
  const block = Buffer.alloc(1 << 20, 'x');
  for (let i = 0; i < 100; i++) if (!file.write(block)) await new Promise<void>((r) => file.once('drain', () => r()));
  await new Promise<void>((resolve) => file.end(resolve));

  const baseline = process.memoryUsage().rss;
  let peak = baseline;
  const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 20);
  const { status, body, app } = await post(dir, { maxRejectRatio: 1 });
  clearInterval(sampler);
  assert.equal(status, 200);
  const [reject] = await rejects(app, body.run_id);
  assert.deepEqual([reject!.line, reject!.reason, reject!.raw_bytes], [3, 'is longer than 1048576 bytes', null]);
  assert.ok(reject!.raw.length <= 1001, 'only a preview of the line is kept');
  assert.ok(peak - baseline < 64 * 1024 * 1024, `RSS grew by ${Math.round((peak - baseline) / 2 ** 20)} MB`);
  await removeDir(dir);
});

test('fields far longer than any sane value are rejected with their length', async () => {
  const dir = await dataDir({
    users: [
      ['user_id', 'name', 'email', 'signup_date'],
      ['1', 'A', 'a@x', '2023-01-01'],
      ['2', 'n'.repeat(200_000), 'b@x', '2023-01-01'],
    ],
  });
  const { body, app } = await post(dir, { maxRejectRatio: 1 });
  assert.deepEqual(
    (await rejects(app, body.run_id)).map((r) => [r.line, r.reason]),
    [[3, 'name is longer than 1000 characters (200000)']],
  );
  await removeDir(dir);
});

test('a wrong file under the right name: the run fails and publishes nothing', async () => {
  const dir = await dataDir({});
  await writeFile(
    path.join(dir, 'users.csv'),
    await (await import('node:fs/promises')).readFile(path.join(CHALLENGE_DIR, 'user_experiments.csv')),
  );
  const { status, body } = await post(dir);
  assert.equal(status, 422);
  assert.match(body.error!, /^users\.csv, line 1: missing required column/);
  // A file whose rows are all rejected: test/load/input-rules.test.ts (MAX_REJECT_RATIO).
  await removeDir(dir);
});

test('ids beyond 32 bits, zero, negative and zero-padded ids; odd dates and run times', async () => {
  // NaN, Infinity and 2023-02-30 are among every reject reason in test/load/input-rules.test.ts.
  const dir = await dataDir({
    users: [
      ['user_id', 'name', 'email', 'signup_date'],
      ['4294967297', 'Big', 'big@x', '2024-02-29'],
      ['0', 'Zero', 'z@x', '2023-01-01'],
      ['-5', 'Neg', 'n@x', '2023-01-01'],
      ['0007', 'Seven', 's@x', '2023-01-01'],
      ['9', 'Leap', 'l@x', '2023-02-29'],
    ],
    experiments: [
      ['experiment_id', 'user_id', 'experiment_compound_ids', 'experiment_run_time'],
      ['1', '4294967297', '1', '1e3'],
      ['2', '7', '0001', '-0'],
      ['5', '7', '1', '1e999'],
    ],
  });
  const { body, app } = await post(dir, { maxRejectRatio: 1 });
  assert.deepEqual(
    (await rejects(app, body.run_id)).map((r) => [r.file, r.line, r.reason]),
    [
      ['users.csv', 3, "user_id '0' is not a positive integer"],
      ['users.csv', 4, "user_id '-5' is not a positive integer"],
      ['users.csv', 6, "signup_date '2023-02-29' is not a valid date (YYYY-MM-DD)"],
      ['user_experiments.csv', 4, "experiment_run_time '1e999' is not a non-negative number"],
    ],
  );
  const users = ((await (await app.request('/data')).json()) as any).users;
  assert.deepEqual(
    users.map((u: any) => [u.user_id, u.total_experiments, u.average_run_time]),
    [
      [7, 1, 0],
      [4294967297, 1, 1000],
    ],
  );
  await removeDir(dir);
});

test('every rejected row is recorded and the pages reach all of them', async () => {
  // 20,000 rejects: two full pages of the 10,000-row maximum and a short last one prove the paging
  // as well as a million would, in a fraction of the time.
  const total = 20_000;
  const dir = await dataDir({
    experiments: [
      'experiment_id,\tuser_id,\texperiment_compound_ids,\texperiment_run_time',
      ...Array.from({ length: total }, (_, i) => `${i + 1},\t999,\t1,\t5`),
    ].join('\r\n'),
  });
  const { status, body, app } = await post(dir);
  assert.equal(status, 422);
  const run = (await (await app.request(`/runs/${body.run_id}`)).json()) as any;
  assert.deepEqual(run.files['user_experiments.csv'].rows_rejected, total);
  const lines: number[] = [];
  for (let offset = 0; ; offset += 10_000) {
    const page = await rejects(app, body.run_id, `?limit=10000&offset=${offset}`);
    lines.push(...page.map((r) => r.line));
    if (page.length < 10_000) break;
  }
  assert.deepEqual(
    lines,
    Array.from({ length: total }, (_, i) => i + 2),
    'every line once, in order',
  );
  const last = await rejects(app, body.run_id, `?limit=10000&offset=${total - 5}`);
  assert.deepEqual(
    last.map((r) => r.line),
    [total - 3, total - 2, total - 1, total, total + 1],
  );
  assert.deepEqual(last[0], {
    file: 'user_experiments.csv',
    line: total - 3,
    reason: 'user_id 999 is not an accepted user',
    raw: `${total - 4},\t999,\t1,\t5`,
    raw_bytes: `${total - 4},\t999,\t1,\t5`.length,
    cause_file: null,
    cause_line: null,
  });
  assert.equal((await app.request(`/runs/${body.run_id}/rejects?limit=10001`)).status, 400, 'pages are bounded');
  await removeDir(dir);
});

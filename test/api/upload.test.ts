// POST /data with a multipart upload (src/api/upload.ts) and API_TOKEN (src/api/auth.ts), against
// the real service process: the same features, rejects and run record as DATA_DIR; every bad upload
// a 4xx that changes nothing; a client that leaves halfway; an upload while a run holds the lock.
// Raw sockets where the test must control exactly which bytes are sent. No timing assumptions: every
// wait polls the service's own state, bounded.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { cp, mkdir, mkdtemp, readdir, readFile, stat } from 'node:fs/promises';
import { execFile } from 'node:child_process';
import { connect, type Socket } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { createApp } from '../../src/api/app.js';
import type { DbHandle } from '../../src/db/connect.js';
import { CHALLENGE_DIR, ROOT, dataDir as writeDataDir, options, removeDir, testDatabase } from '../helpers.js';
import { startService, stopService, type Service } from '../service.js';
import { assertCleanError, waitFor } from '../faults/support.js';

const exec = promisify(execFile);
const PARTS = ['users', 'user_experiments', 'compounds'] as const;
const MAX_UPLOAD_BYTES = 64 * 1024;
const BOUNDARY = 'lab-etl-test-boundary';

let database: DbHandle;
let service: Service;
let root: string;
let uploadTmp: string;

before(async () => {
  database = await testDatabase();
  root = await mkdtemp(path.join(os.tmpdir(), 'lab-etl-upload-test-'));
  uploadTmp = path.join(root, 'spool');
  await cp(CHALLENGE_DIR, path.join(root, 'data'), { recursive: true });
  await mkdir(uploadTmp);
  service = await startService(
    { DATABASE_URL: database.url, DATA_DIR: path.join(root, 'data'), UPLOAD_TMPDIR: uploadTmp, MAX_UPLOAD_BYTES: String(MAX_UPLOAD_BYTES) },
    { timeoutMs: 30_000 },
  );
});

after(async () => {
  if (service) assert.equal((await stopService(service)).code, 0, service.output());
  await database?.close();
  if (root) await removeDir(root);
});

/** What the upload directory holds: nothing, once every upload has ended. */
const spooled = async () => (await readdir(uploadTmp)).filter((name) => name.startsWith('lab-etl-upload-'));

/** The three parts as a FormData, read from `dir`'s files (each part named like its file, without .csv). */
async function form(dir: string, parts: readonly string[] = PARTS): Promise<FormData> {
  const body = new FormData();
  for (const part of parts) body.append(part, new Blob([await readFile(path.join(dir, `${part}.csv`))]), `${part}.csv`);
  return body;
}

const upload = async (body: FormData, headers: Record<string, string> = {}) => {
  const response = await fetch(`${service.base}/data`, { method: 'POST', body, headers });
  const text = await response.text();
  return { status: response.status, body: JSON.parse(text), text, connection: response.headers.get('connection') };
};

const get = async (route: string) => (await fetch(`${service.base}${route}`)).json() as Promise<any>;
const publishedRun = async () => (await get('/data?limit=1')).run?.run_id as number | undefined;

/** A multipart body by hand: each part a file unless `field`. */
function multipart(parts: { name: string; content: string | Buffer; field?: boolean }[]): Buffer {
  const chunks: Buffer[] = [];
  for (const part of parts) {
    const filename = part.field ? '' : `; filename="${part.name}.csv"`;
    chunks.push(Buffer.from(`--${BOUNDARY}\r\nContent-Disposition: form-data; name="${part.name}"${filename}\r\n\r\n`));
    chunks.push(Buffer.from(part.content));
    chunks.push(Buffer.from('\r\n'));
  }
  chunks.push(Buffer.from(`--${BOUNDARY}--\r\n`));
  return Buffer.concat(chunks);
}

/** A raw connection that has sent a POST /data upload's headers (declaring `length` bytes) and `first` of its body. */
async function rawUpload(
  length: number,
  first: Buffer = Buffer.alloc(0),
  port = service.port,
): Promise<{ socket: Socket; answer: Promise<string>; received: () => string }> {
  const socket = connect(port, '127.0.0.1');
  await new Promise((resolve) => socket.once('connect', resolve));
  let received = '';
  socket.on('data', (d) => (received += d));
  socket.on('error', () => {});
  const answer = new Promise<string>((resolve) => socket.on('close', () => resolve(received)));
  socket.write(
    `POST /data HTTP/1.1\r\nHost: localhost\r\nContent-Type: multipart/form-data; boundary=${BOUNDARY}\r\nContent-Length: ${length}\r\n\r\n`,
  );
  if (first.length > 0) socket.write(first);
  return { socket, answer, received: () => received };
}

/** The newest run, once `ready(run)` holds. */
const newestRun = (what: string, ready: (run: any) => boolean) =>
  waitFor(what, async () => {
    const run = (await get('/runs')).runs[0];
    return run && ready(run) ? run : null;
  });

test('an upload of the challenge files gives exactly their features; POST /data without a body still reads DATA_DIR', async () => {
  const fromDir = (await (await fetch(`${service.base}/data`, { method: 'POST' })).json()) as any;
  assert.equal(fromDir.status, 'succeeded');
  assert.equal(fromDir.source, 'data_dir');
  const dirFeatures = await get('/data');

  const uploaded = await upload(await form(CHALLENGE_DIR));
  assert.equal(uploaded.status, 200, uploaded.text);
  assert.equal(uploaded.body.status, 'succeeded');
  assert.equal(uploaded.body.source, 'upload');
  assert.deepEqual(uploaded.body.files, {
    'users.csv': { bytes: 432, rows_read: 10, rows_loaded: 10, rows_rejected: 0 },
    'compounds.csv': { bytes: 122, rows_read: 3, rows_loaded: 3, rows_rejected: 0 },
    'user_experiments.csv': { bytes: 238, rows_read: 11, rows_loaded: 11, rows_rejected: 0 },
  });
  const uploadFeatures = await get('/data');
  assert.equal(uploadFeatures.run.run_id, uploaded.body.run_id, 'the upload is what is published');
  assert.equal(uploadFeatures.average_experiments_per_user, 1.1);
  // test/challenge.test.ts checks the DATA_DIR run against hand-worked values; the upload gives the same.
  assert.deepEqual(uploadFeatures.users, dirFeatures.users);
  assert.equal((await get(`/runs/${uploaded.body.run_id}`)).source, 'upload');
  assert.deepEqual(await spooled(), [], 'the uploaded files are removed after the run');
});

test('rejects of an uploaded file name the part as <name>.csv, with their line numbers', async () => {
  const dir = await writeDataDir({
    users: [
      ['user_id', 'name', 'email', 'signup_date'],
      ['1', 'Ann', 'ann@example.com', '2023-01-01'],
      ['2', 'Bob', 'bob@example.com', '2023-02-30'],
      ['3', 'Cy', 'cy@example.com', '2023-03-01'],
    ],
    experiments: [
      ['experiment_id', 'user_id', 'experiment_compound_ids', 'experiment_run_time'],
      ['1', '1', '1', '10'],
      ['2', '3', '1', '-1'],
      ['3', '3', '1', '5'],
    ],
  });
  try {
    const uploaded = await upload(await form(dir));
    assert.equal(uploaded.status, 200, uploaded.text);
    const rejects = (await get(`/runs/${uploaded.body.run_id}/rejects`)).rejected.map((r: any) => [r.file, r.line]);
    // Causes before consequences: users.csv first.
    assert.deepEqual(rejects, [
      ['users.csv', 3],
      ['user_experiments.csv', 3],
    ]);
  } finally {
    await removeDir(dir);
  }
});

test('bad uploads: a clear 4xx, nothing published, no files left behind', async () => {
  const before = await publishedRun();
  assert.ok(before);
  const users = await readFile(path.join(CHALLENGE_DIR, 'users.csv'));
  const compounds = await readFile(path.join(CHALLENGE_DIR, 'compounds.csv'));
  const experiments = await readFile(path.join(CHALLENGE_DIR, 'user_experiments.csv'));
  const all: { name: string; content: Buffer }[] = [
    { name: 'users', content: users },
    { name: 'user_experiments', content: experiments },
    { name: 'compounds', content: compounds },
  ];
  const cases: [string, () => Promise<{ status: number; text: string; body: any }>, number, RegExp][] = [
    [
      'a missing part',
      async () => upload(await form(CHALLENGE_DIR, ['users', 'user_experiments'])),
      422,
      /^upload: the part compounds is missing/,
    ],
    [
      'two missing parts',
      async () => upload(await form(CHALLENGE_DIR, ['users'])),
      422,
      /^upload: the parts user_experiments, compounds are missing/,
    ],
    ['an unknown part', () => rawAnswer(multipart([...all, { name: 'extra', content: 'x' }])), 400, /^upload: unknown part "extra"/],
    [
      'a repeated part',
      () => rawAnswer(multipart([all[0]!, all[0]!, ...all.slice(1)])),
      400,
      /^upload: the part users is sent more than once/,
    ],
    [
      'a part that is not a file',
      () => rawAnswer(multipart([{ ...all[0]!, field: true }, ...all.slice(1)])),
      400,
      /^upload: the part users is not a file/,
    ],
    [
      'a body cut short of its closing boundary',
      () => rawAnswer(multipart(all).subarray(0, 300)),
      400,
      /^upload: the body is not valid multipart/,
    ],
    [
      'a multipart body without a boundary',
      () => rawAnswer(multipart(all), 'multipart/form-data'),
      400,
      /^upload: the body is not valid multipart\/form-data \(Multipart: Boundary not found\)/,
    ],
    [
      'a body over MAX_UPLOAD_BYTES, declared',
      () => rawAnswer(multipart(all), undefined, MAX_UPLOAD_BYTES + 1),
      413,
      /^upload: the body is larger than MAX_UPLOAD_BYTES \(65536 bytes\)/,
    ],
    [
      'a body over MAX_UPLOAD_BYTES, chunked',
      () =>
        rawAnswer(multipart([{ name: 'users', content: Buffer.alloc(MAX_UPLOAD_BYTES + 1, 'a') }, ...all.slice(1)]), undefined, 'chunked'),
      413,
      /^upload: the body is larger than MAX_UPLOAD_BYTES/,
    ],
  ];
  for (const [label, send, status, message] of cases) {
    const answer = await send();
    assert.equal(answer.status, status, `${label}: ${answer.text}`);
    assert.match(answer.body.error, message, label);
    assertCleanError({ ...answer, ms: 0 }, label);
    assert.ok(!answer.text.includes(uploadTmp), `${label}: no server path`);
    assert.equal(await publishedRun(), before, `${label}: nothing published`);
    assert.deepEqual(await spooled(), [], `${label}: no files left`);
    if (answer.body.run_id) {
      const run = await get(`/runs/${answer.body.run_id}`);
      assert.deepEqual(
        [run.status, run.source, run.error],
        ['failed', 'upload', answer.body.error],
        `${label}: recorded as a failed upload`,
      );
    }
  }
  // Refused before anything was read: no run at all.
  const declared = await rawAnswer(multipart(all), undefined, MAX_UPLOAD_BYTES + 1);
  assert.equal(declared.body.run_id, undefined);
  // Any other body keeps the 16 KiB limit.
  const plain = await fetch(`${service.base}/data`, {
    method: 'POST',
    body: 'x'.repeat(17 * 1024),
    headers: { 'content-type': 'text/plain' },
  });
  assert.equal(plain.status, 413);
  assert.deepEqual(await plain.json(), { error: 'request body too large' });
  // And the service is as good as before.
  assert.equal((await upload(await form(CHALLENGE_DIR))).status, 200);
});

/**
 * Sends `body` as a POST /data upload on a raw connection (Content-Length, or `length` declared
 * without sending more than `body`, or chunked) and parses the answer.
 */
async function rawAnswer(body: Buffer, type = `multipart/form-data; boundary=${BOUNDARY}`, length: number | 'chunked' = body.length) {
  const socket = connect(service.port, '127.0.0.1');
  socket.on('error', () => {});
  let received = '';
  let closed = false;
  socket.on('data', (d) => (received += d));
  socket.on('close', () => (closed = true));
  await new Promise((resolve) => socket.once('connect', resolve));
  const framing = length === 'chunked' ? 'Transfer-Encoding: chunked' : `Content-Length: ${length}`;
  socket.write(`POST /data HTTP/1.1\r\nHost: localhost\r\nContent-Type: ${type}\r\n${framing}\r\n\r\n`);
  if (length === 'chunked') socket.write(`${body.length.toString(16)}\r\n${body.toString('latin1')}\r\n0\r\n\r\n`, 'latin1');
  else if (length === body.length) socket.write(body);
  // Every refused upload closes the connection after its answer.
  await waitFor('the answer, then the connection closed', async () => closed);
  const [head = '', text = ''] = received.split('\r\n\r\n');
  assert.match(head, /^HTTP\/1\.1 \d{3}/, `an HTTP answer: ${received.slice(0, 200)}`);
  assert.match(head, /\r\nconnection: close\r\n/i, 'the connection is closed after a refused upload');
  return { status: Number(head.slice(9, 12)), text, body: JSON.parse(text) };
}

test('a client that stops sending halfway and closes: the run fails, publishes nothing, releases the lock, leaves no files', async () => {
  const before = await publishedRun();
  const body = multipart([{ name: 'users', content: await readFile(path.join(CHALLENGE_DIR, 'users.csv')) }]);
  // Declares far more than it sends: the users part is cut off in the middle.
  const { socket } = await rawUpload(body.length + 10_000, body.subarray(0, body.length - 100));
  const running = await newestRun('the upload to be received', (run) => run.status === 'running' && run.step === 'receiving the upload');
  assert.equal(running.source, 'upload');
  await waitFor('the first part to reach its file', async () => {
    const [dir] = await spooled();
    return dir ? ((await stat(path.join(uploadTmp, dir, 'users.csv')).catch(() => null))?.size ?? 0) > 0 : false;
  });
  socket.destroy();
  const failed = await newestRun('the cut-off run to fail', (run) => run.run_id === running.run_id && run.status !== 'running');
  assert.equal(failed.status, 'failed');
  assert.match(failed.error, /^upload: the client disconnected after \d+ bytes, before the upload was complete$/);
  assert.equal(await publishedRun(), before, 'nothing published');
  assert.deepEqual(await spooled(), [], 'no files left');
  const next = await fetch(`${service.base}/data`, { method: 'POST' });
  assert.equal(next.status, 200, 'the lock was released');
});

test('an upload while a run is in progress: 409 before its body is sent, and nothing of it is received', async () => {
  // A first upload holds the lock: it has sent its headers and part of its body, and waits.
  const users = await readFile(path.join(CHALLENGE_DIR, 'users.csv'));
  const body = multipart([
    { name: 'users', content: users },
    { name: 'user_experiments', content: await readFile(path.join(CHALLENGE_DIR, 'user_experiments.csv')) },
    { name: 'compounds', content: await readFile(path.join(CHALLENGE_DIR, 'compounds.csv')) },
  ]);
  const first = await rawUpload(body.length, body.subarray(0, 200));
  const holder = await newestRun(
    'the first upload to hold the lock',
    (run) => run.status === 'running' && run.step === 'receiving the upload',
  );
  await waitFor('the first upload to make its directory', async () => (await spooled()).length === 1);

  // The second sends only its headers: the answer comes without its body.
  const second = await rawUpload(body.length);
  const answer = await second.answer;
  assert.match(answer, /^HTTP\/1\.1 409 /);
  assert.match(answer, /\r\nconnection: close\r\n/i);
  assert.deepEqual(JSON.parse(answer.split('\r\n\r\n')[1] ?? ''), { error: `run ${holder.run_id} is in progress`, run_id: holder.run_id });
  assert.equal((await spooled()).length, 1, 'only the first upload has a directory');

  // The first completes normally.
  first.socket.write(body.subarray(200));
  const done = await waitFor("the first upload's answer", async () =>
    /\r\n\r\n\{[^]*\}$/.test(first.received()) ? first.received() : null,
  );
  assert.match(done, /^HTTP\/1\.1 200 /, done.slice(0, 300));
  first.socket.destroy();
  assert.deepEqual(await spooled(), []);
});

test('API_TOKEN: POST needs the bearer token (missing or wrong: 401 JSON), reads stay open; no warning on a non-loopback HOST', async () => {
  const token = 'test-token-0123456789';
  const secured = await startService(
    { DATABASE_URL: database.url, DATA_DIR: path.join(root, 'data'), API_TOKEN: token, HOST: '0.0.0.0' },
    { timeoutMs: 30_000 },
  );
  try {
    const post = (headers: Record<string, string>, body?: FormData) => fetch(`${secured.base}/data`, { method: 'POST', headers, body });
    for (const [label, headers] of [
      ['missing', {}],
      ['wrong', { authorization: `Bearer ${token}x` }],
      ['not bearer', { authorization: `Basic ${token}` }],
      ['shorter', { authorization: 'Bearer t' }],
    ] as const) {
      const response = await post(headers);
      assert.equal(response.status, 401, label);
      assert.equal(response.headers.get('www-authenticate'), 'Bearer');
      assert.match(((await response.json()) as any).error, /token: send Authorization: Bearer <API_TOKEN>$/, label);
    }
    // Refused before anything runs: no run was recorded, and an upload is refused unread (its
    // headers alone get the answer, and the connection is closed).
    const runs = (await (await fetch(`${secured.base}/runs`)).json()) as any;
    const refused = await (await rawUpload(100_000, Buffer.alloc(0), secured.port)).answer;
    assert.match(refused, /^HTTP\/1\.1 401 [^]*\r\nconnection: close\r\n/i);
    assert.equal(((await (await fetch(`${secured.base}/runs`)).json()) as any).runs.length, runs.runs.length);
    assert.equal((await fetch(`${secured.base}/data`, { method: 'DELETE' })).status, 401, 'other methods need it too');

    const ok = await post({ authorization: `Bearer ${token}` });
    assert.equal(ok.status, 200);
    const uploaded = await post({ authorization: `bearer ${token}` }, await form(CHALLENGE_DIR));
    assert.equal(uploaded.status, 200);
    assert.equal((await fetch(`${secured.base}/data`)).status, 200, 'reads are open');
    assert.equal((await fetch(`${secured.base}/runs`)).status, 200);
    assert.doesNotMatch(secured.output(), /is reachable from other machines/);

    // bin/trigger.sh uploads a directory's three files, with API_TOKEN from its environment.
    const trigger = (env: Record<string, string>) =>
      exec('bin/trigger.sh', [secured.base, CHALLENGE_DIR], { cwd: ROOT, env: { ...process.env, ...env } });
    const summary = JSON.parse((await trigger({ API_TOKEN: token })).stdout);
    assert.deepEqual([summary.status, summary.source, summary.files['users.csv'].bytes], ['succeeded', 'upload', 432]);
    const refusedTrigger = await trigger({ API_TOKEN: '' }).then(
      () => null,
      (error: { code: number; stderr: string }) => error,
    );
    assert.equal(refusedTrigger?.code, 1);
    assert.match(refusedTrigger!.stderr, /trigger: HTTP 401/);
  } finally {
    assert.equal((await stopService(secured)).code, 0);
  }
});

test('a non-loopback HOST without API_TOKEN logs one warning at start-up', async () => {
  const open = await startService(
    { DATABASE_URL: database.url, DATA_DIR: path.join(root, 'data'), HOST: '0.0.0.0' },
    { timeoutMs: 30_000 },
  );
  try {
    assert.equal(
      open.output().match(/HOST=0\.0\.0\.0 is reachable from other machines and API_TOKEN is not set/g)?.length,
      1,
      open.output(),
    );
  } finally {
    assert.equal((await stopService(open)).code, 0);
  }
  assert.doesNotMatch(service.output(), /is reachable from other machines/, 'none on 127.0.0.1');
});

test('API_TOKEN_READS=1: reads need the token too, except /health', async () => {
  const app = createApp(database, { ...options(CHALLENGE_DIR), apiToken: 'r', apiTokenReads: true });
  assert.equal((await app.request('/data')).status, 401);
  assert.equal((await app.request('/runs', { method: 'HEAD' })).status, 401);
  assert.equal((await app.request('/runs', { headers: { authorization: 'Bearer r' } })).status, 200);
  assert.equal((await app.request('/health')).status, 200);
});

// The HTTP guarantees of the hardening probe, each against the real service process (src/server.ts):
// HEAD on every GET route without leaking a connection, clients that leave before the first byte,
// 405 with Allow, 503 with Retry-After when the database is slow or its connections are taken,
// DATA_DIR named without the server's path, and HOST.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { cp, mkdtemp, rename } from 'node:fs/promises';
import { connect } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { SAMPLE_DIR, removeDir, testDatabase } from '../helpers.js';
import { sleep, startService, stopService, type Service } from '../service.js';
import type { DbHandle } from '../../src/db/connect.js';

let database: DbHandle;
let service: Service;
let dataDir: string;
let runId: number;

before(async () => {
  database = await testDatabase();
  dataDir = path.join(await mkdtemp(path.join(os.tmpdir(), 'lab-etl-http-')), 'data');
  await cp(SAMPLE_DIR, dataDir, { recursive: true });
  // A short statement timeout, so the slow-database test is quick.
  service = await startService({ DATABASE_URL: database.url, DATA_DIR: dataDir, STATEMENT_TIMEOUT_MS: '1000' }, { timeoutMs: 30_000 });
  const posted = await fetch(`${service.base}/data`, { method: 'POST' });
  assert.equal(posted.status, 200);
  runId = ((await posted.json()) as any).run_id;
});

after(async () => {
  if (service) assert.equal((await stopService(service)).code, 0, service.output());
  await database?.close();
  if (dataDir) await removeDir(path.dirname(dataDir));
});

/** The service's sessions on its database, by state (none of the test's own). */
async function sessions(): Promise<Record<string, number>> {
  const rows = await database.pool.query<{ state: string; n: number }>(
    `SELECT coalesce(state, '?') AS state, count(*)::int AS n FROM pg_stat_activity
      WHERE datname = current_database() AND application_name LIKE 'lab-features-etl:%'
        AND application_name <> $1 GROUP BY 1`,
    [(database.pool.options as { application_name: string }).application_name],
  );
  return Object.fromEntries(rows.rows.map((r) => [r.state, r.n]));
}

/** Waits (bounded, generously) until no session of the service is left inside a transaction. */
async function noOpenTransactions(what: string): Promise<void> {
  let last = {};
  for (let i = 0; i < 100; i++) {
    last = await sessions();
    if (!Object.keys(last).some((s) => s.startsWith('idle in transaction') || s === 'active')) return;
    await sleep(100);
  }
  assert.fail(`${what}: the service still has sessions in a transaction: ${JSON.stringify(last)}`);
}

test('HEAD on every GET route: the GET status, content type and length, no body, and no connection kept', async () => {
  const routes = {
    '/data': 200,
    '/data?limit=5&after=2': 200,
    '/data?limit=0': 400,
    '/data/users/3': 200,
    '/data/users/4242': 404,
    '/runs': 200,
    [`/runs/${runId}`]: 200,
    '/runs/999999': 404,
    [`/runs/${runId}/rejects`]: 200,
    '/health': 200,
  };
  for (const [route, status] of Object.entries(routes)) {
    const head = await fetch(`${service.base}${route}`, { method: 'HEAD' });
    assert.equal(head.status, status, `HEAD ${route}`);
    assert.equal(head.headers.get('content-type'), 'application/json', `HEAD ${route}`);
    assert.equal(await head.text(), '', `HEAD ${route} has no body`);
    const get = await fetch(`${service.base}${route}`);
    assert.equal(get.status, status, `GET ${route}`);
    const bytes = (await get.arrayBuffer()).byteLength;
    // A JSON answer's length is known; a streamed one (GET /data, reject pages) is chunked.
    const streamed = status === 200 && (route.startsWith('/data?') || route === '/data' || route.endsWith('/rejects'));
    assert.equal(head.headers.get('content-length'), streamed ? null : String(bytes), `HEAD ${route}: Content-Length`);
  }
  // The probe: ten HEADs used to leave ten connections idle in transaction, and then /health was 503.
  for (let i = 0; i < 30; i++) assert.equal((await fetch(`${service.base}/data`, { method: 'HEAD' })).status, 200);
  await Promise.all(Array.from({ length: 20 }, () => fetch(`${service.base}/data`, { method: 'HEAD' })));
  await noOpenTransactions('after 50 HEAD /data');
  assert.equal((await fetch(`${service.base}/health`)).status, 200);
  const data = (await (await fetch(`${service.base}/data`)).json()) as any;
  assert.equal(data.users.length, 12);
});

test('clients that leave before the first byte leave no connection behind', async () => {
  for (let i = 0; i < 30; i++) {
    const socket = connect(service.port, '127.0.0.1');
    await new Promise((resolve) => socket.once('connect', resolve));
    socket.end('GET /data HTTP/1.1\r\nHost: localhost\r\n\r\n');
    socket.destroy();
  }
  await noOpenTransactions('after 30 clients that left');
  assert.equal((await fetch(`${service.base}/health`)).status, 200);
  assert.equal(((await (await fetch(`${service.base}/data`)).json()) as any).users.length, 12);
});

test('a known path with another method: 405 with Allow; an unknown path: 404', async () => {
  const cases = [
    ['DELETE', '/data', 'GET, HEAD, POST'],
    ['PUT', `/runs/${runId}`, 'GET, HEAD'],
    ['POST', '/health', 'GET, HEAD'],
    ['PATCH', '/data/users/1', 'GET, HEAD'],
    ['POST', `/runs/${runId}/rejects`, 'GET, HEAD'],
  ];
  for (const [method, route, allow] of cases) {
    const response = await fetch(`${service.base}${route}`, { method });
    assert.equal(response.status, 405, `${method} ${route}`);
    assert.equal(response.headers.get('allow'), allow, `${method} ${route}`);
    assert.match(((await response.json()) as any).error, new RegExp(`^${method} is not allowed`));
  }
  const unknown = await fetch(`${service.base}/nope`, { method: 'DELETE' });
  assert.equal(unknown.status, 404);
  assert.deepEqual(await unknown.json(), { error: 'no route for DELETE /nope' });
});

test('a slow database or no free connection: 503 with Retry-After, never 500', async () => {
  // Another session locks the runs table: every read of it waits until statement_timeout (1 s
  // here) ends it. 24 readers on the 4 short-read connections: the first ones time out, the later
  // ones may also give up waiting for a connection. Either way: 503 and Retry-After.
  const locker = new pg.Client(database.url);
  await locker.connect();
  try {
    await locker.query('BEGIN');
    await locker.query('LOCK TABLE etl.runs IN ACCESS EXCLUSIVE MODE');
    const answers = await Promise.all(
      Array.from({ length: 24 }, async () => {
        const response = await fetch(`${service.base}/runs/${runId}`, { signal: AbortSignal.timeout(60_000) });
        return { status: response.status, retryAfter: response.headers.get('retry-after'), text: await response.text() };
      }),
    );
    const seen = [...new Set(answers.map((a) => `${a.status} ${a.text}`))];
    console.log(`slow database: ${seen.join(' | ')}`);
    for (const answer of answers) {
      assert.equal(answer.status, 503, answer.text);
      assert.match(answer.retryAfter ?? '', /^\d+$/);
      assert.match(JSON.parse(answer.text).error, /retry in a few seconds$/);
      assert.doesNotMatch(answer.text, /SELECT|etl\.runs|postgres:\/\/|\bat .*:\d+/);
    }
  } finally {
    await locker.query('ROLLBACK').catch(() => {});
    await locker.end();
  }
  assert.equal((await fetch(`${service.base}/runs/${runId}`)).status, 200, 'served again once the lock is gone');
});

test('a missing DATA_DIR is named DATA_DIR to clients; the log has the full path', async () => {
  const away = `${dataDir}.away`;
  await rename(dataDir, away);
  try {
    const response = await fetch(`${service.base}/data`, { method: 'POST' });
    const text = await response.text();
    assert.equal(response.status, 422);
    assert.equal(JSON.parse(text).error, 'DATA_DIR: the data directory does not exist or is not a directory');
    assert.ok(!text.includes(dataDir), 'the server path is not in the answer');
    const failedRun = JSON.parse(text).run_id;
    const run = await (await fetch(`${service.base}/runs/${failedRun}`)).text();
    assert.ok(!run.includes(dataDir) && run.includes('DATA_DIR: the data directory'), run);
    assert.ok(service.output().includes(`${dataDir}: the data directory does not exist`), 'the log keeps the full path');
  } finally {
    await rename(away, dataDir);
  }
});

test('HOST: 127.0.0.1 by default, and the log names the address really bound', async () => {
  assert.match(service.output(), new RegExp(`listening on http://127\\.0\\.0\\.1:${service.port} \\(DATABASE_URL\\)`));
  const external = Object.values(os.networkInterfaces())
    .flat()
    .find((i) => i && i.family === 'IPv4' && !i.internal);
  if (!external) return; // no other interface on this machine: nothing more to check
  const reached = await fetch(`http://${external.address}:${service.port}/health`, { signal: AbortSignal.timeout(5000) }).then(
    () => true,
    () => false,
  );
  assert.equal(reached, false, `the service must not answer on ${external.address}`);
});

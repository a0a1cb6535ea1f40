// Streamed answers (GET /data, reject pages) in process: at most MAX_STREAMS at a time (503 with
// Retry-After beyond), a stream nobody reads is ended after the idle limit, and neither holds up
// /health or POST /data. The same over real sockets: test/faults/slow-readers.test.ts.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createApp } from '../../src/api/app.js';
import type { DbHandle } from '../../src/db/connect.js';
import { SAMPLE_DIR, options, testDatabase } from '../helpers.js';
import { sleep } from '../service.js';

let database: DbHandle;
let app: ReturnType<typeof createApp>;

before(async () => {
  database = await testDatabase({ maxStreams: 2, streamIdleTimeoutMs: 500, statementTimeoutMs: 30_000 });
  app = createApp(database, options(SAMPLE_DIR));
  assert.equal((await app.request('/data', { method: 'POST' })).status, 200);
});
after(() => database.close());

/** Sessions of the streams pool that are inside a transaction. */
async function openStreamTransactions(): Promise<number> {
  const { rows } = await database.pool.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM pg_stat_activity
      WHERE datname = current_database() AND application_name LIKE 'lab-features-etl:streams:%' AND state <> 'idle'`,
  );
  return rows[0]!.n;
}

async function until(what: string, probe: () => Promise<boolean>): Promise<void> {
  for (let i = 0; i < 300; i++) {
    if (await probe()) return;
    await sleep(100);
  }
  assert.fail(`timed out waiting for ${what}`);
}

test('beyond MAX_STREAMS: 503 with Retry-After; /health answers and a run commits meanwhile; a freed slot serves again', async () => {
  const idleLimitOff = await testDatabase({ maxStreams: 2, streamIdleTimeoutMs: 3_600_000, statementTimeoutMs: 30_000 });
  const unread: Response[] = [];
  try {
    const held = createApp(idleLimitOff, options(SAMPLE_DIR));
    assert.equal((await held.request('/data', { method: 'POST' })).status, 200);
    // Two answers nobody reads: each keeps its stream (and its snapshot) while unread.
    unread.push(await held.request('/data'), await held.request('/runs/1/rejects'));
    assert.deepEqual(
      unread.map((r) => r.status),
      [200, 200],
    );
    const refused = await held.request('/data');
    assert.equal(refused.status, 503);
    assert.match(refused.headers.get('retry-after') ?? '', /^\d+$/);
    assert.deepEqual(await refused.json(), { error: 'all 2 streaming slots are in use; retry in a few seconds' });

    assert.equal((await held.request('/health')).status, 200);
    assert.equal((await held.request('/data/users/1')).status, 200);
    // A run commits and publishes while the streams hang. (Its answer then waits for the retiring
    // of the previous run's partitions, whose DETACH CONCURRENTLY waits for the open snapshots:
    // bounded by the idle limit, which is off here, so the streams are cancelled below.)
    const [latest] = ((await (await held.request('/runs')).json()) as any).runs;
    const post = held.request('/data', { method: 'POST' });
    await until('the run to commit while the streams hang', async () => {
      const [run] = ((await (await held.request('/runs')).json()) as any).runs;
      return run.run_id > latest.run_id && run.status === 'succeeded';
    });
    assert.equal((await held.request('/health')).status, 200);

    await unread[0]!.body!.cancel();
    let again = await held.request('/data');
    for (let i = 0; again.status === 503 && i < 100; i++) {
      await sleep(100); // the slot is freed as the cancel is processed
      again = await held.request('/data');
    }
    assert.equal(again.status, 200);
    assert.equal(((await again.json()) as any).users.length, 12);
    assert.equal(JSON.parse(await unread[1]!.text()).rejected.length, 0, 'the other stream still completes when read');
    assert.equal((await post).status, 200, 'with the snapshots gone, the run answers');
  } finally {
    // Nothing may stay unread, or closing the pools would wait for those streams forever.
    for (const response of unread) await response.body?.cancel().catch(() => {});
    await idleLimitOff.close();
  }
});

test('a stream nobody reads is ended after the idle limit and gives its connection back', async () => {
  const unread = await app.request('/data');
  assert.equal(unread.status, 200);
  const second = await app.request('/data');
  assert.equal((await openStreamTransactions()) > 0, true, 'the unread streams hold their snapshots');
  // No client ever reads them: after STREAM_IDLE_TIMEOUT_MS (0.5 s here) both are ended.
  await until('the idle streams to give their connections back', async () => (await openStreamTransactions()) === 0);
  const text = await unread.text();
  assert.throws(() => JSON.parse(text), 'an idle stream is cut short, never passed off as complete');
  await second.body!.cancel();
  const fresh = await app.request('/data');
  assert.equal(fresh.status, 200);
  assert.equal(((await fresh.json()) as any).users.length, 12);
});

// Readers against the real service process over real sockets:
// - clients that send GET /data and then stop reading: at most MAX_STREAMS hold a stream, the
//   others get 503 with Retry-After; /health, point reads and a run go on meanwhile; the stalled
//   streams are ended after STREAM_IDLE_TIMEOUT_MS and give their connections back;
// - 50 parallel GET /data while a run loads and transforms: each answer is a whole result (200) or
//   503 with Retry-After, never a 500, and the run succeeds.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import {
  assertCleanError,
  assertConsistent,
  assertPublished,
  call,
  cleanup,
  serviceOnSets,
  stopService,
  useSet,
  waitFor,
  waitForRun,
  withClient,
  type DataSets,
  type Service,
} from './support.js';

const MAX_STREAMS = 3;
const IDLE_MS = 4000;

let service: Service;
let url: string;
let dataDir: string;
let sets: DataSets<'big' | 'other'>;

before(async () => {
  ({ service, url, dataDir, sets } = await serviceOnSets(
    'slow-readers',
    {
      // About 25 MB of GET /data: far more than the socket buffers between a client and the service.
      big: { users: 100_000, experiments: 200_000, compounds: 50, seed: 11 },
      other: { users: 90_000, experiments: 400_000, compounds: 40, seed: 12 },
    },
    'big',
    { MAX_STREAMS: String(MAX_STREAMS), STREAM_IDLE_TIMEOUT_MS: String(IDLE_MS) },
  ));
  const first = await call(service.base, 'POST', '/data');
  assert.equal(first.status, 200, first.text);
});
after(cleanup);

/** Sends GET /data on a raw socket, reads the first bytes (the status line), then stops reading. */
function stalledReader(port: number): Promise<{ socket: Socket; head: string }> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    socket.on('error', () => {}); // the service cuts stalled streams off; that is the point
    socket.once('data', (data) => {
      socket.pause(); // from here on nothing is read: the kernel buffers fill and the service waits
      resolve({ socket, head: data.toString('latin1', 0, 400) });
    });
    socket.once('connect', () => socket.write('GET /data HTTP/1.1\r\nHost: localhost\r\n\r\n'));
    setTimeout(() => reject(new Error('no answer to GET /data within 60 s')), 60_000).unref();
  });
}

/** The service's stream sessions that are inside a transaction (a stream in progress). */
const openStreams = () =>
  withClient(url, async (client) => {
    const { rows } = await client.query(
      `SELECT count(*)::int AS n FROM pg_stat_activity
        WHERE datname = current_database() AND application_name LIKE 'lab-features-etl:streams:%' AND state <> 'idle'`,
    );
    return rows[0].n as number;
  });

test(
  'clients that stop reading: the stream cap holds, /health and runs go on, the idle limit frees them',
  { timeout: 240_000 },
  async () => {
    const readers = await Promise.all(Array.from({ length: 10 }, () => stalledReader(service.port)));
    try {
      const statuses = readers.map((r) => Number(r.head.slice(9, 12)));
      console.log(`slow readers: 10 stalled GET /data answered ${statuses.sort().join(' ')}`);
      assert.equal(statuses.filter((s) => s === 200).length, MAX_STREAMS, 'as many streams as MAX_STREAMS');
      assert.equal(statuses.filter((s) => s === 503).length, 10 - MAX_STREAMS, 'the others: 503');
      for (const r of readers.filter((r) => r.head.startsWith('HTTP/1.1 503'))) assert.match(r.head, /\r\nretry-after: \d+\r\n/i);
      assert.equal(await openStreams(), MAX_STREAMS, 'the stalled streams hold their snapshots for now');

      // Meanwhile the service answers everything that is not another stream.
      const health = await call(service.base, 'GET', '/health', { timeoutMs: 10_000 });
      assert.equal(health.status, 200);
      assert.equal((await call(service.base, 'GET', '/data/users/1', { timeoutMs: 10_000 })).status, 200);
      const refused = await fetch(`${service.base}/data`);
      assert.equal(refused.status, 503);
      assert.match(refused.headers.get('retry-after') ?? '', /^\d+$/);
      assertCleanError({ status: 503, body: await refused.json(), text: '', ms: 0 }, 'a stream beyond the cap');

      // A run commits while the streams are stalled; it answers once the idle limit has ended them
      // (retiring the old run's partitions waits for their snapshots).
      const before = (await call(service.base, 'GET', '/runs')).body.runs[0].run_id;
      await useSet(dataDir, sets.other.dir);
      const posted = await call(service.base, 'POST', '/data', { timeoutMs: 180_000 });
      assert.equal(posted.status, 200, posted.text);
      assert.ok(posted.body.run_id > before);

      // The idle limit ended the stalled streams and their connections went back.
      await waitFor('the stalled streams to be ended', async () => (await openStreams()) === 0, { timeoutMs: 60_000, intervalMs: 200 });
      const ended = service.output().match(/stream ended early: its client took nothing for \d+ ms/g) ?? [];
      assert.ok(ended.length >= MAX_STREAMS, `the log says why the streams ended (${ended.length})`);
      assertConsistent(await call(service.base, 'GET', '/data'), 'GET /data after the stalled readers');
      await assertPublished(url, posted.body.run_id, 'after the stalled readers');
    } finally {
      for (const r of readers) r.socket.destroy();
    }
  },
);

test(
  '50 parallel GET /data during a run: whole answers or 503 with Retry-After, never 500; the run succeeds',
  { timeout: 300_000 },
  async () => {
    await useSet(dataDir, sets.big.dir);
    const before = (await call(service.base, 'GET', '/runs')).body.runs[0].run_id;
    const started = performance.now();
    const post = call(service.base, 'POST', '/data', { timeoutMs: 240_000 });
    await waitForRun(service.base, before, 'the run to be loading', (run) => run.step !== null);
    const answers = await Promise.all(
      Array.from({ length: 50 }, async () => {
        const response = await fetch(`${service.base}/data`, { signal: AbortSignal.timeout(180_000) });
        const text = await response.text();
        return { status: response.status, retryAfter: response.headers.get('retry-after'), text };
      }),
    );
    const posted = await post;
    const counts = answers.reduce<Record<number, number>>((c, a) => ({ ...c, [a.status]: (c[a.status] ?? 0) + 1 }), {});
    console.log(
      `50 readers during a run: ${JSON.stringify(counts)}; the run took ${Math.round(performance.now() - started)} ms (POST ${posted.status})`,
    );
    assert.equal(posted.status, 200, posted.text);
    for (const [i, answer] of answers.entries()) {
      assert.ok(answer.status === 200 || answer.status === 503, `reader ${i}: ${answer.status} ${answer.text.slice(0, 200)}`);
      if (answer.status === 200) assertConsistent({ status: 200, body: JSON.parse(answer.text), text: '', ms: 0 }, `reader ${i}`);
      else {
        assert.match(answer.retryAfter ?? '', /^\d+$/, `reader ${i}: Retry-After`);
        assertCleanError({ status: 503, body: JSON.parse(answer.text), text: answer.text, ms: 0 }, `reader ${i}`);
      }
    }
    assert.ok((counts[200] ?? 0) >= 1, 'some readers were served');
    await assertPublished(url, posted.body.run_id, 'after the readers');
    assert.doesNotMatch(service.output(), /GET \/data failed/, 'no reader failed with an error');
  },
);

test(
  'a run does not wait for stalled streams of the old run: it answers within seconds, the next run finishes the detach',
  { timeout: 300_000 },
  async () => {
    // An idle limit far beyond the test, so only the bounded retirement can let the run answer.
    // KEEP_RUNS=1: the first run's features are retired too (by default they are kept, to compare
    // runs), so the streams that read them stand in the way of the retirement.
    const slow = await serviceOnSets(
      'slow-readers-retire',
      {
        first: { users: 100_000, experiments: 200_000, compounds: 50, seed: 11 },
        next: { users: 90_000, experiments: 400_000, compounds: 40, seed: 12 },
      },
      'first',
      { MAX_STREAMS: '2', STREAM_IDLE_TIMEOUT_MS: '600000', KEEP_RUNS: '1' },
    );
    const pending = () =>
      withClient(
        slow.url,
        async (client) => (await client.query('SELECT count(*)::int AS n FROM pg_inherits WHERE inhdetachpending')).rows[0].n as number,
      );
    assert.equal((await call(slow.service.base, 'POST', '/data')).status, 200);
    const readers = await Promise.all([stalledReader(slow.service.port), stalledReader(slow.service.port)]);
    try {
      assert.ok(
        readers.every((r) => r.head.startsWith('HTTP/1.1 200')),
        'both streams hold a snapshot of the first run',
      );
      await useSet(slow.dataDir, slow.sets.next.dir);
      const posted = await call(slow.service.base, 'POST', '/data', { timeoutMs: 180_000 });
      console.log(`slow readers: a run with 2 stalled streams of the old run answered in ${Math.round(posted.ms)} ms`);
      assert.equal(posted.status, 200, posted.text);
      assert.ok(posted.ms < 120_000, `answered long before the 600 s idle limit would free the streams (${Math.round(posted.ms)} ms)`);
      assert.match(slow.service.output(), /could not drop the previous run's tables yet/);
      assert.ok((await pending()) > 0, 'the old partitions are left detach-pending');
      await assertPublished(slow.url, posted.body.run_id, 'with streams of the old run still open');
    } finally {
      for (const r of readers) r.socket.destroy();
    }
    await waitFor(
      'the streams to end',
      async () =>
        !/stream/.test(
          await withClient(
            slow.url,
            async (c) =>
              (
                await c.query(
                  "SELECT string_agg(application_name, ' ') AS a FROM pg_stat_activity WHERE datname = current_database() AND state <> 'idle' AND application_name LIKE '%:streams:%'",
                )
              ).rows[0].a ?? '',
          ),
        ),
      { timeoutMs: 60_000, intervalMs: 200 },
    );
    const again = await call(slow.service.base, 'POST', '/data', { timeoutMs: 180_000 });
    assert.equal(again.status, 200, again.text);
    assert.equal(await pending(), 0, 'the next run finished the pending detach');
    await stopService(slow.service);
  },
);

test(
  'SIGTERM while clients stall mid-stream: the streams are cut and the service exits 0, not by the forced exit',
  { timeout: 120_000 },
  async () => {
    const readers = await Promise.all(Array.from({ length: MAX_STREAMS }, () => stalledReader(service.port)));
    try {
      assert.ok(readers.every((r) => r.head.startsWith('HTTP/1.1 200')));
      assert.equal(await openStreams(), MAX_STREAMS);
      const exit = await stopService(service);
      console.log(`slow readers: SIGTERM with ${MAX_STREAMS} stalled streams: exit ${exit.code} after ${exit.ms} ms`);
      // The 15 s forced exit would be code 1: 0 means the pools closed because the streams let go.
      assert.equal(exit.code, 0, service.output());
    } finally {
      for (const r of readers) r.socket.destroy();
    }
  },
);

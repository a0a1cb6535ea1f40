// `kill -9` of the service in the middle of a large COPY, then a restart: the previous features
// are served unchanged, the interrupted run is marked failed, and the next POST /data succeeds.
// Once with the embedded PostgreSQL (the killed service leaves its postmaster running; the restart
// must stop that orphan and start the cluster again) and once with DATABASE_URL.
import { after, before, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { testDatabase } from '../helpers.js';
import {
  BIG,
  assertConsistent,
  assertPublished,
  call,
  cleanup,
  freePort,
  isAlive,
  makeSets,
  midCopy,
  onCleanup,
  postmasterPid,
  startService,
  stopService,
  tempDir,
  trackCluster,
  useSet,
  waitForRun,
  withClient,
} from './support.js';

let sets: Awaited<ReturnType<typeof makeSets<'first' | 'next' | 'big'>>>;

before(async () => {
  await tempDir('kill9');
  sets = await makeSets({
    first: { users: 500, experiments: 5000, compounds: 20, seed: 1 },
    next: { users: 800, experiments: 6000, compounds: 30, seed: 2 },
    big: BIG,
  });
});
after(cleanup);

async function killMidCopyAndRestart(t: TestContext, env: Record<string, string>, url: string, pgdata: string | null) {
  const dataDir = env.DATA_DIR!;
  await useSet(dataDir, sets.first.dir);
  let service = await startService(env);
  const first = await call(service.base, 'POST', '/data');
  assert.equal(first.status, 200, first.text);
  const before = await call(service.base, 'GET', '/data');
  assertConsistent(before, 'before the kill');
  assert.equal(before.body.run.run_id, first.body.run_id);

  // A large run; kill -9 the service while its COPY is streaming.
  await useSet(dataDir, sets.big.dir);
  const experimentsBytes = sets.big.files['user_experiments.csv']!;
  const post = call(service.base, 'POST', '/data', { timeoutMs: 600_000 }).then(
    (answer) => ({ answer }),
    (error: Error) => ({ error }),
  );
  const running = await waitForRun(service.base, first.body.run_id, 'the large run to be mid-COPY', midCopy(experimentsBytes));
  const orphan = pgdata ? postmasterPid(pgdata) : null;
  const killed = await stopService(service, 'SIGKILL');
  assert.equal(killed.signal, 'SIGKILL');
  const loaded = running.files['user_experiments.csv'].bytes;
  console.log(`kill9: killed the service mid-COPY: ${loaded} of ${experimentsBytes} experiment bytes loaded (run ${running.run_id})`);

  const outcome = await post;
  assert.ok('error' in outcome, `the client of the killed service gets no answer, got ${JSON.stringify(outcome)}`);

  // What the killed service left behind: its run still says `running` (and with the embedded
  // server, that server still runs, orphaned).
  if (pgdata) assert.ok(orphan !== null && isAlive(orphan), 'the killed service left its PostgreSQL running');
  const left = await withClient(url, (c) => c.query('SELECT status FROM etl.runs WHERE run_id = $1', [running.run_id]));
  assert.equal(left.rows[0]?.status, 'running');

  // Restart. The next run will read a different small set.
  await useSet(dataDir, sets.next.dir);
  const restartStarted = performance.now();
  service = await startService(env);
  console.log(`kill9: restarted and healthy in ${Math.round(performance.now() - restartStarted)} ms`);
  if (pgdata) {
    assert.ok(!isAlive(orphan!), 'the restart stopped the orphaned PostgreSQL');
    const now = postmasterPid(pgdata);
    assert.ok(now !== null && now !== orphan && isAlive(now), 'and started its own');
  }

  const afterRestart = await call(service.base, 'GET', '/data');
  assert.equal(afterRestart.status, 200);
  assert.deepEqual(afterRestart.body, before.body, 'the previous features are served unchanged');

  const interrupted = await call(service.base, 'GET', `/runs/${running.run_id}`);
  assert.equal(interrupted.body.status, 'failed', 'the interrupted run is marked failed at start-up');
  assert.equal(interrupted.body.error, 'interrupted: the service stopped before the run finished');
  assert.ok(interrupted.body.finished_at, 'with an end time');
  await t.test('the interrupted run no longer shows a current step', () => {
    assert.equal(interrupted.body.step, null);
  });
  await assertPublished(url, first.body.run_id, 'after the restart');

  const next = await call(service.base, 'POST', '/data');
  assert.equal(next.status, 200, next.text);
  assert.equal(next.body.status, 'succeeded');
  assert.ok(next.body.run_id > running.run_id);
  assert.deepEqual(next.body.features.users, 800);
  const data = await call(service.base, 'GET', '/data');
  assertConsistent(data, 'after the next run');
  assert.equal(data.body.run.run_id, next.body.run_id);
  await assertPublished(url, next.body.run_id, 'after the next run');

  const stopped = await stopService(service, 'SIGTERM');
  assert.equal(stopped.code, 0, service.output());
  if (pgdata) assert.equal(postmasterPid(pgdata), null, 'a clean stop also stops the embedded PostgreSQL');
}

test(
  'kill -9 mid-COPY with the embedded PostgreSQL: the restart stops the orphaned server and recovers',
  { timeout: 180_000 },
  async (t) => {
    const dir = await tempDir('kill9-embedded');
    const pgdata = path.join(dir, 'pgdata');
    trackCluster(pgdata);
    const port = await freePort();
    const env = { EMBEDDED_PG_DIR: pgdata, EMBEDDED_PG_PORT: String(port), DATA_DIR: path.join(dir, 'data') };
    await killMidCopyAndRestart(t, env, `postgres://postgres:postgres@127.0.0.1:${port}/postgres`, pgdata);
  },
);

test('kill -9 mid-COPY with DATABASE_URL: the restart recovers', { timeout: 180_000 }, async (t) => {
  const database = await testDatabase();
  onCleanup(() => database.close());
  const dir = await tempDir('kill9-url');
  await killMidCopyAndRestart(t, { DATABASE_URL: database.url, DATA_DIR: path.join(dir, 'data') }, database.url, null);
});

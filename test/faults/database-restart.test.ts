// The database goes away in the middle of a run: the service (DATABASE_URL pointing at a scratch
// cluster this test starts and stops for real) answers the POST with a clean error, /health turns
// 503 and back to 200 once the database is back without restarting the service, the previous
// features are still served and the next POST /data succeeds.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { startEmbeddedPostgres, type EmbeddedPostgres } from '../../src/db/embedded.js';
import {
  BIG,
  assertCleanError,
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
  sleep,
  startService,
  stopService,
  tempDir,
  trackCluster,
  useSet,
  waitFor,
  waitForRun,
  withClient,
} from './support.js';

let root: string;
let pgdata: string;
let port: number;
let cluster: EmbeddedPostgres | null = null;
let sets: Awaited<ReturnType<typeof makeSets<'first' | 'next' | 'big'>>>;
let databases = 0;

/** Starts the scratch cluster; after a crash its last backends may take a moment to go, so retry. */
async function startCluster(): Promise<number> {
  const started = performance.now();
  for (let attempt = 1; ; attempt++) {
    try {
      cluster = await startEmbeddedPostgres(pgdata, port);
      return Math.round(performance.now() - started);
    } catch (error) {
      if (attempt === 20) throw error;
      await sleep(500);
    }
  }
}

before(async () => {
  root = await tempDir('db-restart');
  pgdata = path.join(root, 'pgdata');
  trackCluster(pgdata);
  port = await freePort();
  onCleanup(async () => {
    await cluster?.stop();
  });
  sets = await makeSets({
    first: { users: 500, experiments: 5000, compounds: 20, seed: 1 },
    next: { users: 800, experiments: 6000, compounds: 30, seed: 2 },
    big: BIG,
  });
  await startCluster();
});
after(cleanup);

const stops = {
  /** A clean restart: fast shutdown (SIGINT to the postmaster), as `pg_ctl stop -m fast` does. */
  async 'fast shutdown'() {
    await cluster!.stop();
    cluster = null;
  },
  /** A crash: SIGKILL of the postmaster; its backends notice and exit, crash recovery at start. */
  async crash() {
    const pid = postmasterPid(pgdata)!;
    process.kill(pid, 'SIGKILL');
    await waitFor('the postmaster to die', async () => !isAlive(pid), { timeoutMs: 10_000 });
    cluster = null;
  },
};

for (const [mode, stopDatabase] of Object.entries(stops)) {
  test(
    `the database stops mid-run (${mode}): clean error, /health 503 then 200, recovery without a restart`,
    { timeout: 180_000 },
    async () => {
      if (!cluster) await startCluster(); // an earlier test may have failed with the database down
      const name = `lab_etl_faults_${++databases}`;
      const adminUrl = `postgres://postgres:postgres@127.0.0.1:${port}/postgres`;
      await withClient(adminUrl, (c) => c.query(`CREATE DATABASE ${name}`));
      const url = `postgres://postgres:postgres@127.0.0.1:${port}/${name}`;
      const dataDir = path.join(root, `data-${databases}`);
      await useSet(dataDir, sets.first.dir);
      const service = await startService({ DATABASE_URL: url, DATA_DIR: dataDir });

      const first = await call(service.base, 'POST', '/data');
      assert.equal(first.status, 200, first.text);
      const before = await call(service.base, 'GET', '/data');
      assertConsistent(before, 'before the fault');

      await useSet(dataDir, sets.big.dir);
      const post = call(service.base, 'POST', '/data', { timeoutMs: 120_000 }).then(
        (answer) => ({ answer, at: performance.now() }),
        (error: Error) => ({ error, at: performance.now() }),
      );
      const running = await waitForRun(
        service.base,
        first.body.run_id,
        'the large run to be mid-COPY',
        midCopy(sets.big.files['user_experiments.csv']!),
      );
      const stoppedAt = performance.now();
      await stopDatabase();

      // The POST answers: a JSON error naming the run, no crash, no stack.
      const outcome = await post;
      assert.ok('answer' in outcome, `POST /data gets an answer, not a dropped connection: ${'error' in outcome ? outcome.error : ''}`);
      const answer = outcome.answer;
      console.log(
        `db-restart (${mode}): POST /data answered ${answer.status} ${Math.round(outcome.at - stoppedAt)} ms after the stop: ${answer.text}`,
      );
      assert.equal(answer.status, 503);
      assertCleanError(answer, 'the failed POST');
      assert.equal(answer.body.run_id, running.run_id);
      assert.match(answer.body.error, /^the run failed: /);
      // Says what happened, whichever way pg reported it (not a side effect such as an aborted sibling load).
      assert.match(answer.body.error, /^the run failed: the connection to the database was lost \(.+\)$/);

      // While the database is down the service answers, with 503 on /health and clean errors elsewhere.
      const health = await call(service.base, 'GET', '/health', { timeoutMs: 15_000 });
      assert.equal(health.status, 503);
      assert.deepEqual(health.body, { status: 'unavailable', database: 'postgresql', error: 'the database does not answer' });
      for (const [method, route] of [
        ['GET', '/data'],
        ['GET', '/data/users/1'],
        ['GET', `/runs/${running.run_id}`],
        ['POST', '/data'],
      ] as const) {
        const down = await call(service.base, method, route, { timeoutMs: 15_000 });
        assert.ok(down.status >= 500, `${method} ${route} while the database is down: ${down.status}`);
        assertCleanError(down, `${method} ${route} while the database is down`);
      }
      assert.equal(service.child.exitCode, null, 'the service is still running');

      // The database comes back: the same service process recovers.
      const downUntil = Date.now();
      const restartMs = await startCluster();
      const back = performance.now();
      await waitFor(
        '/health to answer 200 again',
        async () => (await call(service.base, 'GET', '/health', { timeoutMs: 15_000 })).status === 200,
      );
      console.log(
        `db-restart (${mode}): database restarted in ${restartMs} ms; /health 200 again ${Math.round(performance.now() - back)} ms later`,
      );

      const afterwards = await call(service.base, 'GET', '/data');
      assert.deepEqual(afterwards.body, before.body, 'the previous features are served unchanged');
      // The service could not record the failure while the database was down; it retries in the
      // background, so the run reads `failed` about a second after the database answers again.
      const failed = await waitFor(
        'the failed run to be recorded as failed',
        async () => {
          const run = (await call(service.base, 'GET', `/runs/${running.run_id}`)).body;
          return run.status === 'running' ? null : run;
        },
        { timeoutMs: 15_000 },
      );
      console.log(
        `db-restart (${mode}): the run reads ${failed.status} ${Math.round(performance.now() - back)} ms after the database was back`,
      );
      assert.equal(failed.status, 'failed');
      assert.equal(failed.step, null);
      assert.ok(Date.parse(failed.finished_at) <= downUntil, 'its end time is when it failed, not when it could be recorded');
      assert.equal(failed.error, answer.body.error, 'with the error the POST answered');
      await assertPublished(url, first.body.run_id, 'after the database came back');

      await useSet(dataDir, sets.next.dir);
      const next = await call(service.base, 'POST', '/data');
      assert.equal(next.status, 200, next.text);
      assert.equal(next.body.features.users, 800);
      assertConsistent(await call(service.base, 'GET', '/data'), 'after the next run');
      await assertPublished(url, next.body.run_id, 'after the next run');

      const stopped = await stopService(service);
      assert.equal(stopped.code, 0, service.output());
      assert.doesNotMatch(service.output(), /postgres:\/\/|password/i, 'no connection string in the logs');
    },
  );
}

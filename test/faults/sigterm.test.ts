// SIGTERM while a run is in progress (during its COPY, then during its transform transaction):
// the service exits within a bounded time with code 0, the run is recorded as cancelled (or it
// completed), nothing is half-published, and after a restart the previous features are served and
// a new run succeeds. With the embedded PostgreSQL, which the service must stop on its way out.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import {
  BIG,
  assertCleanError,
  assertConsistent,
  assertPublished,
  call,
  cleanup,
  freePort,
  makeSets,
  midCopy,
  postmasterPid,
  startService,
  stopService,
  tempDir,
  trackCluster,
  useSet,
  waitForRun,
} from './support.js';

let root: string;
let env: Record<string, string>;
let url: string;
let pgdata: string;
let sets: Awaited<ReturnType<typeof makeSets<'first' | 'next' | 'big'>>>;

before(async () => {
  root = await tempDir('sigterm');
  pgdata = path.join(root, 'pgdata');
  trackCluster(pgdata);
  const port = await freePort();
  url = `postgres://postgres:postgres@127.0.0.1:${port}/postgres`;
  env = { EMBEDDED_PG_DIR: pgdata, EMBEDDED_PG_PORT: String(port), DATA_DIR: path.join(root, 'data') };
  sets = await makeSets({
    first: { users: 500, experiments: 5000, compounds: 20, seed: 1 },
    next: { users: 800, experiments: 6000, compounds: 30, seed: 2 },
    big: BIG,
  });
});
after(cleanup);

const phases = {
  'during its COPY': (run: any) => midCopy(sets.big.files['user_experiments.csv']!)(run),
  'during its transform transaction': (run: any) => run.step !== null && !['checking files', 'loading'].includes(run.step),
};

for (const [phase, ready] of Object.entries(phases)) {
  test(`SIGTERM ${phase}: exit 0 within 15 s, run cancelled, nothing half-published`, { timeout: 240_000 }, async () => {
    await useSet(env.DATA_DIR!, sets.first.dir);
    let service = await startService(env);
    const first = await call(service.base, 'POST', '/data');
    assert.equal(first.status, 200, first.text);
    const before = await call(service.base, 'GET', '/data');
    assertConsistent(before, 'before SIGTERM');

    await useSet(env.DATA_DIR!, sets.big.dir);
    const post = call(service.base, 'POST', '/data', { timeoutMs: 600_000 }).then(
      (answer) => ({ answer }),
      (error: Error) => ({ error }),
    );
    const running = await waitForRun(service.base, first.body.run_id, `the large run to be ${phase}`, ready, 120_000);
    const stopped = await stopService(service, 'SIGTERM', 30_000);
    console.log(`sigterm (${phase}, step ${running.step}): exited with ${stopped.code ?? stopped.signal} in ${stopped.ms} ms`);
    assert.ok(stopped.ms < 15_000, `stopped within 15 s (took ${stopped.ms} ms)`);
    assert.equal(stopped.code, 0, service.output());
    assert.equal(postmasterPid(pgdata), null, 'the embedded PostgreSQL was stopped too');

    // The client of the cancelled run is answered before the service goes.
    const outcome = await post;
    assert.ok('answer' in outcome, `POST /data got an answer: ${'error' in outcome ? outcome.error : ''}`);
    console.log(`sigterm (${phase}): the POST answered ${outcome.answer.status} ${outcome.answer.text}`);
    if (outcome.answer.status !== 200) {
      assert.equal(outcome.answer.status, 503);
      assertCleanError(outcome.answer, 'the cancelled POST');
      assert.deepEqual(outcome.answer.body, { error: 'the run was cancelled: the service is shutting down', run_id: running.run_id });
    }

    await useSet(env.DATA_DIR!, sets.next.dir);
    service = await startService(env);
    const run = (await call(service.base, 'GET', `/runs/${running.run_id}`)).body;
    assert.ok(run.status === 'failed' || run.status === 'succeeded', `the run ended, not left running: ${run.status}`);
    const afterwards = await call(service.base, 'GET', '/data');
    if (run.status === 'failed') {
      // Recorded by the service itself on its way out (a restart would say "interrupted").
      assert.equal(run.error, 'the run was cancelled: the service is shutting down');
      assert.equal(run.step, null);
      assert.deepEqual(afterwards.body, before.body, 'the previous features are served unchanged');
      await assertPublished(url, first.body.run_id, 'after the restart');
    } else {
      assertConsistent(afterwards, 'the completed run');
      assert.equal(afterwards.body.run.run_id, running.run_id);
      await assertPublished(url, running.run_id, 'after the restart');
    }

    const next = await call(service.base, 'POST', '/data');
    assert.equal(next.status, 200, next.text);
    assert.equal(next.body.features.users, 800);
    assertConsistent(await call(service.base, 'GET', '/data'), 'after the next run');
    await assertPublished(url, next.body.run_id, 'after the next run');
    const last = await stopService(service, 'SIGTERM');
    assert.equal(last.code, 0, service.output());
  });
}

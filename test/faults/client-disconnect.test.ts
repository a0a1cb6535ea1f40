// A client that disconnects while POST /data runs (its fetch aborted, so the socket closes): the
// run still completes or fails cleanly, nothing is half-published, and the run lock is free
// afterwards (the next POST gets 200, not 409).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  assertConsistent,
  assertPublished,
  call,
  cleanup,
  useSet,
  waitFor,
  waitForRun,
  serviceOnSets,
  type DataSets,
  type Service,
} from './support.js';

let service: Service;
let url: string;
let dataDir: string;
let sets: DataSets<'first' | 'mid'>;

before(async () => {
  ({ service, url, dataDir, sets } = await serviceOnSets(
    'disconnect',
    {
      first: { users: 500, experiments: 5000, compounds: 20, seed: 1 },
      // Long enough (a few seconds of transform) to disconnect in a chosen step, short enough to finish.
      mid: { users: 20_000, experiments: 250_000, compounds: 10, seed: 3 },
    },
    'first',
  ));
});
after(cleanup);

const phases = {
  'while it loads': (run: any) => run.step === 'loading',
  'during its transform transaction': (run: any) => run.step !== null && !['checking files', 'loading'].includes(run.step),
};

for (const [phase, ready] of Object.entries(phases)) {
  test(`the client disconnects ${phase}: the run ends cleanly and the lock is free`, { timeout: 180_000 }, async () => {
    await useSet(dataDir, sets.first.dir);
    const first = await call(service.base, 'POST', '/data');
    assert.equal(first.status, 200, first.text);
    const before = await call(service.base, 'GET', '/data');

    await useSet(dataDir, sets.mid.dir);
    const client = new AbortController();
    const post = call(service.base, 'POST', '/data', { signal: client.signal }).then(
      (answer) => ({ answer }),
      (error: Error) => ({ error }),
    );
    const running = await waitForRun(service.base, first.body.run_id, `the run to be ${phase}`, ready);
    client.abort();
    const outcome = await post;
    assert.ok('error' in outcome && outcome.error.name === 'AbortError', 'the client gave up on its request');

    // The run goes on without its client and ends.
    const started = performance.now();
    const ended = await waitFor(
      'the run to end',
      async () => {
        const run = (await call(service.base, 'GET', `/runs/${running.run_id}`)).body;
        return run.status === 'running' ? null : run;
      },
      { timeoutMs: 150_000, intervalMs: 200 },
    );
    console.log(
      `disconnect (${phase}, step ${running.step}): run ${ended.run_id} ${ended.status} ${Math.round(performance.now() - started)} ms after the client left`,
    );
    assert.ok(ended.status === 'succeeded' || ended.status === 'failed');

    const data = await call(service.base, 'GET', '/data');
    assertConsistent(data, 'after the disconnected run');
    if (ended.status === 'succeeded') {
      assert.equal(data.body.run.run_id, running.run_id);
      assert.equal(data.body.users.length, 20_000);
      await assertPublished(url, running.run_id, 'the disconnected run, completed');
    } else {
      assert.deepEqual(data.body, before.body, 'a failed run leaves the previous features');
      await assertPublished(url, first.body.run_id, 'the disconnected run, failed');
    }

    // The lock is free: the next trigger runs instead of answering 409.
    await useSet(dataDir, sets.first.dir);
    const next = await call(service.base, 'POST', '/data');
    assert.equal(next.status, 200, next.text);
    await assertPublished(url, next.body.run_id, 'after the next run');
    assert.equal(service.child.exitCode, null, 'the service is still running');
    assert.doesNotMatch(service.output(), /POST \/data failed|Uncaught|ERR_/, 'answering a departed client logged no error');
  });
}

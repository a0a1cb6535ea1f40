// A worker stopped for real in the middle of a run: the run fails with a clear message (no
// connection string), nothing is published, and once the worker is back the previous features are
// served as before and the next run succeeds.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { generate } from '../../tools/generate.js';
import { RunFailedError } from '../../src/support/errors.js';
import { getRun } from '../../src/read/runs.js';
import { query, removeDir, run } from '../helpers.js';
import { citusDatabase, nodeProcess, startNode, stopNode, type CitusDatabase, type NodeProcess } from './support.js';
import { dataBody } from './compare.js';

let citus: CitusDatabase;
let root: string;
let stopped: NodeProcess | null = null;
before(async () => {
  root = await mkdtemp(path.join(os.tmpdir(), 'lab-etl-citus-fault-'));
  await generate({ users: 500, experiments: 3000, compounds: 30, out: path.join(root, 'small'), seed: 31 });
  await generate({ users: 50_000, experiments: 600_000, compounds: 300, out: path.join(root, 'big'), seed: 32 });
  citus = await citusDatabase({ shardCount: 4 });
});
after(async () => {
  if (stopped) await startNode(stopped);
  await citus?.close();
  await removeDir(root);
});

const CONNECTION_STRING = /postgres(ql)?:\/\/|password|dbname=|host=|user=|\w@[\w.-]+:\d+/i;

for (const when of ['loading', 'transform'] as const) {
  test(
    `a worker stopped during the run's ${when} fails the run cleanly; after it is back the next run succeeds`,
    { timeout: 300_000 },
    async () => {
      const first = await run(citus, path.join(root, 'small'));
      assert.equal(first.status, 'succeeded');
      const before = await dataBody(citus);

      const worker = await nodeProcess(citus.nodeUrls.at(-1)!);
      const running = run(citus, path.join(root, 'big')).then(
        () => assert.fail('the run succeeded with a worker down'),
        (error: unknown) => error,
      );
      // Wait for the run to reach the moment, then stop the worker.
      const runId = first.run_id + 1;
      for (;;) {
        const record = await getRun(citus.db, runId);
        if (record && record.status !== 'running') assert.fail(`the run ended before the worker was stopped: ${record.status}`);
        const loading = record?.step === 'loading' && (record.files['user_experiments.csv']?.rows_read ?? 0) > 50_000;
        const transforming =
          record?.step !== undefined && record?.step !== null && !['starting', 'checking files', 'loading'].includes(record.step);
        if (when === 'loading' ? loading : transforming) break;
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      await stopNode(worker);
      stopped = worker;
      const error = await running;
      assert.ok(error instanceof RunFailedError, String(error));
      assert.doesNotMatch(error.message, CONNECTION_STRING, error.message);
      assert.match(error.message, /^the run failed: the Citus worker [\w.-]+:\d+ did not answer; nothing was published/, error.message);
      assert.equal(error.kind, 'unavailable');
      const record = await getRun(citus.db, runId);
      assert.equal(record?.status, 'failed');
      assert.equal(record?.error, error.message);
      assert.deepEqual(await query(citus, 'SELECT run_id FROM etl.published'), [{ run_id: first.run_id }], 'nothing was published');

      await startNode(worker);
      stopped = null;
      assert.equal(await dataBody(citus), before, 'the previous features, unchanged');
      const next = await run(citus, path.join(root, 'small'));
      assert.equal(next.status, 'succeeded');
      assert.equal(await dataBody(citus), before);
    },
  );
}

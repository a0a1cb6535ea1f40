// The service as a process on a Citus coordinator: it says so at start-up and in /health; two
// services on one coordinator run one ETL at a time; kill -9 in the middle of a run, then a
// restart, leaves the published features as they were and the next run succeeds.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { generate } from '../../tools/generate.js';
import { call, startService, stopService, useSet, waitForRun, type Service } from '../faults/support.js';
import { query, removeDir } from '../helpers.js';
import { citusDatabase, type CitusDatabase } from './support.js';

let citus: CitusDatabase;
let root: string;
const services: Service[] = [];
before(async () => {
  root = await mkdtemp(path.join(os.tmpdir(), 'lab-etl-citus-service-'));
  await generate({ users: 500, experiments: 4000, compounds: 30, out: path.join(root, 'small'), seed: 41 });
  await generate({ users: 40_000, experiments: 500_000, compounds: 300, out: path.join(root, 'big'), seed: 42 });
  citus = await citusDatabase({ shardCount: 4 });
});
after(async () => {
  for (const service of services) await stopService(service, 'SIGKILL').catch(() => {});
  await citus?.close();
  await removeDir(root);
});

async function start(dataDir: string): Promise<Service> {
  const service = await startService({ DATABASE_URL: citus.nodeUrls[0]!, DATA_DIR: dataDir });
  services.push(service);
  return service;
}

test(
  'two services on one coordinator: one run at a time; kill -9 mid-run, restart: nothing published, the run marked failed, the next run succeeds',
  { timeout: 600_000 },
  async () => {
    const dirA = path.join(root, 'data-a');
    const dirB = path.join(root, 'data-b');
    await useSet(dirA, path.join(root, 'small'));
    await useSet(dirB, path.join(root, 'small'));
    let a = await start(dirA);
    const b = await start(dirB);
    assert.match(a.output(), /listening on http:\/\/127\.0\.0\.1:\d+ \(DATABASE_URL: Citus, 2 workers, 4 shards\)/);
    const health = await call(a.base, 'GET', '/health');
    assert.deepEqual(health.body, { status: 'ok', database: 'citus', workers: citus.nodeUrls.length - 1, shards: 4 });

    const first = await call(a.base, 'POST', '/data');
    assert.equal(first.status, 200, first.text);
    const published = await call(b.base, 'GET', '/data');
    assert.equal(published.body.run.run_id, first.body.run_id, 'both services read the same published run');

    // A long run on A; B is told it is in progress.
    await useSet(dirA, path.join(root, 'big'));
    const post = call(a.base, 'POST', '/data', { timeoutMs: 600_000 }).then(
      (answer) => ({ answer }),
      (error: Error) => ({ error }),
    );
    const running = await waitForRun(
      a.base,
      first.body.run_id,
      'the big run to be loading',
      (r) => r.step === 'loading' && r.files['user_experiments.csv'].rows_read > 0,
    );
    const refused = await call(b.base, 'POST', '/data');
    assert.equal(refused.status, 409, refused.text);
    assert.equal(refused.body.run_id, running.run_id);

    // kill -9 of A once its run is in the transform, on the workers.
    await waitForRun(
      a.base,
      first.body.run_id,
      'the big run to be transforming',
      (r) => r.step !== 'loading' && r.step !== 'checking files',
      300_000,
    );
    await stopService(a, 'SIGKILL');
    assert.ok('error' in (await post), 'the client of the killed service gets no answer');
    assert.deepEqual(await query(citus, 'SELECT run_id FROM etl.published'), [{ run_id: first.body.run_id }]);

    a = await start(dirA);
    const interrupted = await call(a.base, 'GET', `/runs/${running.run_id}`);
    assert.equal(interrupted.body.status, 'failed');
    const afterRestart = await call(b.base, 'GET', '/data');
    assert.deepEqual(afterRestart.body, published.body, 'the previous features, unchanged');

    await useSet(dirA, path.join(root, 'small'));
    const next = await call(a.base, 'POST', '/data');
    assert.equal(next.status, 200, next.text);
    const now = await call(b.base, 'GET', '/data');
    assert.equal(now.body.run.run_id, next.body.run_id);
    assert.deepEqual(now.body.users, published.body.users, 'the same files give the same features');

    // The features page's reads on Citus: every user once, in the order asked for, page by page.
    const users = now.body.users as { user_id: number; average_run_time: number | null; name: string }[];
    const pages = async (query: string) => {
      const ids: number[] = [];
      let next: string | null = null;
      do {
        const page = await call(b.base, 'GET', `/data/users?${query}&limit=90${next ? `&after=${encodeURIComponent(next)}` : ''}`);
        assert.equal(page.status, 200, page.text);
        ids.push(...page.body.users.map((u: { user_id: number }) => u.user_id));
        next = page.body.next;
      } while (next);
      return ids;
    };
    const byRunTime = [...users].sort((x, y) =>
      x.average_run_time === y.average_run_time
        ? y.user_id - x.user_id
        : x.average_run_time === null
          ? -1
          : y.average_run_time === null
            ? 1
            : y.average_run_time - x.average_run_time,
    );
    assert.deepEqual(
      await pages('sort=average_run_time&dir=desc'),
      byRunTime.map((u) => u.user_id),
      'by average run time, descending, nulls first',
    );
    assert.deepEqual(
      await pages('q=user%201'),
      users.filter((u) => u.name.toLowerCase().startsWith('user 1')).map((u) => u.user_id),
      'a name prefix',
    );
    const detail = await call(b.base, 'GET', `/data/users/${users[0]!.user_id}/experiments`);
    assert.equal(detail.status, 200, detail.text);
    assert.equal(detail.body.experiments.length, Math.min(1000, detail.body.user.total_experiments));
    const parts = await query<{ t: string }>(
      citus,
      `SELECT logicalrelid::text AS t FROM pg_dist_partition WHERE logicalrelid::text ~ '_run_[0-9]+$'`,
    );
    const runsOf = (prefix: string) => new Set(parts.filter((p) => p.t.startsWith(prefix)).map((p) => p.t.replace(/.*_run_/, '')));
    assert.deepEqual(runsOf('core.'), new Set([String(next.body.run_id)]), "older runs' core tables retired");
    // Features are kept for the newest KEEP_RUNS successful runs (to compare them); the killed run has none.
    const succeeded = await query<{ run_id: number }>(citus, `SELECT run_id FROM etl.runs WHERE status = 'succeeded'`);
    assert.deepEqual(
      runsOf('mart.user_features_run_'),
      new Set(succeeded.map((r) => String(r.run_id))),
      'features of successful runs only',
    );
  },
);

// Tooling shared by the fault tests (`npm run test:faults`): real service processes, real
// PostgreSQL clusters, real HTTP. Every wait is bounded; everything started here is registered and
// stopped by cleanup(), which each test file calls from `after`, even when a test failed.
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { chmod, mkdtemp, rename, rm, symlink } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { testDatabase } from '../helpers.js';
import { generateCached, type GenerateOptions } from '../../tools/generate.js';
import { exitOf, isRunning, sleep, startService as startServiceProcess, stopService, type Service } from '../service.js';
import { RUN_LOCK } from '../../src/run/run-lock.js';
import { postmasterPid, stopPostmaster as stopCluster } from '../../src/db/embedded.js';
import { isAlive } from '../../src/support/process.js';

export { freePort, isRunning, ROOT, sleep, stopService, type Exit, type Service } from '../service.js';

export { RUN_LOCK };

/** A data set large enough that its COPY lasts several seconds (about 90 MB of experiments). */
export const BIG: Omit<GenerateOptions, 'out'> = { users: 100_000, experiments: 3_000_000, compounds: 1000, seed: 7 };

// ---------------------------------------------------------------------------------------------
// Cleanup registry

const children = new Set<ChildProcess>();
const clusters = new Set<string>();
const dirs = new Set<string>();
const cleanups: (() => Promise<void>)[] = [];

/** Registers extra cleanup work (closing a pool, stopping a cluster), run first by cleanup(). */
export function onCleanup(work: () => Promise<void>): void {
  cleanups.push(work);
}

/** Stops every process, cluster and pool this file started and removes its temporary directories. */
export async function cleanup(): Promise<void> {
  for (const work of cleanups.splice(0).reverse()) await work().catch((e) => console.error(`cleanup: ${e}`));
  for (const child of children) {
    if (isRunning(child)) child.kill('SIGKILL');
    await exitOf(child, 10_000).catch(() => {});
  }
  children.clear();
  for (const pgdata of clusters) await stopPostmaster(pgdata).catch((e) => console.error(`cleanup: ${e}`));
  clusters.clear();
  for (const dir of dirs) await rm(dir, { recursive: true, force: true });
  dirs.clear();
}

/** A new temporary directory (mode 755: as root the embedded server runs as `postgres`), removed by cleanup(). */
export async function tempDir(prefix: string): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), `lab-etl-faults-${prefix}-`));
  await chmod(dir, 0o755);
  dirs.add(dir);
  return dir;
}

/** A cluster directory whose postmaster cleanup() must stop (a killed service leaves it running). */
export function trackCluster(pgdata: string): void {
  clusters.add(pgdata);
}

// ---------------------------------------------------------------------------------------------
// Processes

export { isAlive, postmasterPid };

/** Stops the postmaster of `pgdata` if one runs: fast shutdown, then SIGKILL after 15 s. */
export const stopPostmaster = (pgdata: string) => stopCluster(pgdata, { killAfterMs: 15_000, giveUpAfterMs: 25_000 });

/**
 * Starts `src/server.ts` as its own process (see test/service.ts) and registers it, so cleanup()
 * stops it even when start-up or the test fails.
 */
export function startService(env: Record<string, string>, { timeoutMs = 90_000, compiled = false } = {}): Promise<Service> {
  return startServiceProcess(env, { timeoutMs, compiled, track: (child) => children.add(child) });
}

// ---------------------------------------------------------------------------------------------
// HTTP

export interface Answer {
  status: number;
  body: any;
  text: string;
  ms: number;
}

/** One HTTP request to the service; the body is parsed as JSON. Bounded by `timeoutMs`. */
export async function call(
  base: string,
  method: 'GET' | 'POST',
  route: string,
  { timeoutMs = 120_000, signal }: { timeoutMs?: number; signal?: AbortSignal } = {},
): Promise<Answer> {
  const started = performance.now();
  const timeout = AbortSignal.timeout(timeoutMs);
  const response = await fetch(`${base}${route}`, { method, signal: signal ? AbortSignal.any([signal, timeout]) : timeout });
  const text = await response.text();
  const ms = performance.now() - started;
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    assert.fail(`${method} ${route} answered ${response.status} with a body that is not JSON: ${text.slice(0, 300)}`);
  }
  return { status: response.status, body, text, ms };
}

/** An error answer as docs/api.md promises: JSON `{error}`, no stack trace, SQL or connection string. */
export function assertCleanError(answer: Answer, label: string): void {
  assert.equal(typeof answer.body?.error, 'string', `${label}: an {"error"} JSON body, got ${answer.text}`);
  assert.doesNotMatch(
    answer.text,
    /\bat .*:\d+:\d+|postgres(ql)?:\/\/|\bSELECT\b|\bINSERT INTO\b|\bUPDATE\b .* \bSET\b/,
    `${label}: no stack, SQL or URL`,
  );
}

/** Polls `probe` every `intervalMs` until it returns a truthy value; fails after `timeoutMs`. */
export async function waitFor<T>(
  what: string,
  probe: () => Promise<T | null | undefined | false>,
  { timeoutMs = 30_000, intervalMs = 100 } = {},
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(intervalMs);
  }
}

/**
 * The first run newer than `previousRunId`, once it is `running` and `ready(run)` holds (polled
 * over GET /runs). Fails at once if that run ends before it was ever ready: the fault would miss it.
 */
export function waitForRun(
  base: string,
  previousRunId: number,
  what: string,
  ready: (run: any) => boolean,
  timeoutMs = 60_000,
): Promise<any> {
  return waitFor(
    what,
    async () => {
      const answer = await call(base, 'GET', '/runs', { timeoutMs: 5000 }).catch(() => null);
      const run = answer?.body?.runs?.[0];
      if (!run || run.run_id <= previousRunId) return null;
      if (run.status !== 'running') throw new Error(`run ${run.run_id} ended (${run.status}: ${run.error}) before ${what}`);
      return ready(run) ? run : null;
    },
    { timeoutMs, intervalMs: 50 },
  );
}

/** Mid-COPY: the run is loading and part, but not all, of the experiments file has been read. */
export const midCopy = (experimentsBytes: number) => (run: any) =>
  run.step === 'loading' && run.files['user_experiments.csv'].bytes > 0 && run.files['user_experiments.csv'].bytes < experimentsBytes;

/** GET /data: one complete result of one run (counts, average and run record agree). */
export function assertConsistent(answer: Answer, label: string): void {
  assert.equal(answer.status, 200, `${label}: GET /data answered ${answer.status}: ${answer.text.slice(0, 300)}`);
  const { run, average_experiments_per_user: average, users } = answer.body;
  assert.ok(run, `${label}: the answer names its run`);
  assert.equal(run.status, 'succeeded', `${label}: the served run succeeded`);
  assert.equal(run.features.users, users.length, `${label}: run ${run.run_id} has ${run.features.users} users, the answer ${users.length}`);
  const experiments = users.reduce((sum: number, u: any) => sum + u.total_experiments, 0);
  assert.equal(run.features.experiments, experiments, `${label}: the users' experiments add up to the run's total`);
  assert.equal(average, run.features.average_experiments_per_user, `${label}: the average is the run's`);
  if (users.length > 0) {
    assert.ok(Math.abs(average - experiments / users.length) < 1e-9, `${label}: average ${average} = ${experiments} / ${users.length}`);
  }
  for (let i = 1; i < users.length; i++) assert.ok(users[i - 1].user_id < users[i].user_id, `${label}: users ordered by id`);
}

// ---------------------------------------------------------------------------------------------
// Data

/** Each named set, generated once and then reused from the bench's cache (read-only), with its file sizes. */
export type DataSets<K extends string> = Record<K, { dir: string; files: Record<string, number> }>;

export async function makeSets<K extends string>(specs: Record<K, Omit<GenerateOptions, 'out'>>): Promise<DataSets<K>> {
  const out = {} as DataSets<K>;
  for (const name of Object.keys(specs) as K[]) {
    const { dir, files } = await generateCached(specs[name]);
    out[name] = { dir, files };
  }
  return out;
}

/**
 * A fresh database, data sets generated under a new temp dir, DATA_DIR (a symlink) on `first`, and
 * the service running on them. cleanup() stops the service and drops the database.
 */
export async function serviceOnSets<K extends string>(
  name: string,
  specs: Record<K, Omit<GenerateOptions, 'out'>>,
  first: NoInfer<K>,
  env: Record<string, string> = {},
  { compiled = false } = {},
): Promise<{ service: Service; url: string; dataDir: string; sets: DataSets<K> }> {
  const root = await tempDir(name);
  const sets = await makeSets(specs);
  const database = await testDatabase();
  onCleanup(() => database.close());
  const dataDir = path.join(root, 'data');
  await useSet(dataDir, sets[first].dir);
  const service = await startService({ DATABASE_URL: database.url, DATA_DIR: dataDir, ...env }, { compiled });
  onCleanup(async () => {
    await stopService(service);
  });
  return { service, url: database.url, dataDir, sets };
}

/**
 * Points `dataDir` (a symlink, the service's DATA_DIR) at `target`, atomically. DATA_DIR is fixed
 * per process, so this is how a test feeds one service different files from one run to the next.
 */
export async function useSet(dataDir: string, target: string): Promise<void> {
  const next = `${dataDir}.next`;
  await rm(next, { force: true });
  await symlink(target, next);
  await rename(next, dataDir);
}

// ---------------------------------------------------------------------------------------------
// The database, as psql would see it

export async function withClient<T>(url: string, work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 10_000 });
  client.on('error', () => {});
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end().catch(() => {});
  }
}

/**
 * Nothing is half-published: `etl.published` points at `runId`, that run succeeded, its partitions
 * are attached under all four parents with as many feature rows as it recorded users, every
 * attached partition belongs to a succeeded run, no run is left `running` and the run lock is free.
 */
export async function assertPublished(url: string, runId: number, label: string): Promise<void> {
  await withClient(url, async (client) => {
    const published = await client.query('SELECT run_id FROM etl.published');
    assert.deepEqual(
      published.rows.map((r) => Number(r.run_id)),
      [runId],
      `${label}: etl.published`,
    );
    const run = (await client.query('SELECT status, users FROM etl.runs WHERE run_id = $1', [runId])).rows[0];
    assert.equal(run?.status, 'succeeded', `${label}: the published run succeeded`);
    const parts = await client.query<{ parent: string; part: string }>(`
      SELECT i.inhparent::regclass::text AS parent, c.relname AS part
      FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
      WHERE i.inhparent IN ('core.users'::regclass, 'core.compounds'::regclass, 'core.experiments'::regclass, 'mart.user_features'::regclass)`);
    for (const parent of ['core.users', 'core.compounds', 'core.experiments', 'mart.user_features']) {
      const table = parent.split('.')[1];
      assert.ok(
        parts.rows.some((p) => p.parent === parent && p.part === `${table}_run_${runId}`),
        `${label}: run ${runId} is attached under ${parent} (${JSON.stringify(parts.rows)})`,
      );
    }
    const partRuns = [...new Set(parts.rows.map((p) => Number(p.part.replace(/^.*_run_/, ''))))];
    const succeeded = await client.query(`SELECT run_id FROM etl.runs WHERE status = 'succeeded' AND run_id = ANY($1)`, [partRuns]);
    assert.equal(succeeded.rowCount, partRuns.length, `${label}: only succeeded runs have partitions (${partRuns})`);
    const rows = await client.query('SELECT count(*)::int AS n FROM mart.user_features WHERE run_id = $1', [runId]);
    assert.equal(rows.rows[0].n, Number(run.users), `${label}: all of run ${runId}'s feature rows are there`);
    const running = await client.query(`SELECT run_id FROM etl.runs WHERE status = 'running'`);
    assert.deepEqual(running.rows, [], `${label}: no run is left running`);
    const locks = await client.query(
      `SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND classid = 0 AND objid = $1 AND objsubid = 1
         AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`,
      [RUN_LOCK],
    );
    assert.deepEqual(locks.rows, [], `${label}: the run lock is free`);
  });
}

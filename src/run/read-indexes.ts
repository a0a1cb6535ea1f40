// The features page's indexes (sql/000019-read-indexes.sql), built on the published run's
// partitions when that page is first used after a publish, not by the run: at 10M experiments they
// take ~10 s on a quiet machine, a quarter of a run, which a run built inside (or right after)
// itself would pay on every run (a run right after another was 40% slower: docs/performance.md,
// "The features page"). Runs that nobody browses pay nothing; the pages read correctly (only
// slower) until the indexes exist.
import type { DbHandle } from '../db/connect.js';
import { isCitus } from '../db/citus.js';
import type { Log } from '../support/log.js';
import { trackRun } from './runs-in-process.js';

/** The tables whose read indexes are built, in this order, each in a transaction of its own: the sorted pages' first. */
const TABLES = ['user_features', 'experiments', 'compounds'] as const;
/**
 * How long dropping the read index of a run no longer published may wait for that run's readers
 * (readers of the views lock every partition, so they queue behind a waiting drop: keep it short).
 */
const DROP_WAIT = '200ms';

/**
 * What the features page's readers call with the run each answer came from: the first call for a
 * run starts the build of its read indexes in the background (one build at a time; later calls
 * for the same run do nothing, without a query). Returns the build it started or joined, for tests.
 * A build that failed (it logs why) is tried again by the next call.
 */
export function readIndexesOnDemand(database: DbHandle, log: Log, signal?: AbortSignal): (runId: number | null) => Promise<void> {
  let built: number | null = null;
  let building: Promise<void> | null = null;
  return (runId) => {
    if (runId === null || runId === built) return Promise.resolve();
    building ??= buildReadIndexes(database, runId, log, signal).then((ok) => {
      if (ok) built = runId;
      building = null;
    });
    return building;
  };
}

/**
 * Builds the read indexes `runId` (null: the published run) lacks, then drops those of runs no
 * longer published (their features stay for KEEP_RUNS; the diff does not use them). Idempotent:
 * a build a kill interrupted is finished by the next. Failures are logged, never thrown (false):
 * without the indexes the pages are slower, not wrong. On Citus nothing is built (the shards'
 * plans differ; docs/api.md). Counted among the process's runs, so a graceful stop cancels and
 * waits for it (`signal`).
 */
export function buildReadIndexes(database: DbHandle, runId: number | null, log: Log, signal?: AbortSignal): Promise<boolean> {
  if (isCitus(database.mode)) return Promise.resolve(true);
  return trackRun(build(database, runId, log, signal));
}

async function build(database: DbHandle, runId: number | null, log: Log, signal?: AbortSignal): Promise<boolean> {
  const cancel = () => void database.cancelQueries().catch(() => {});
  signal?.addEventListener('abort', cancel);
  try {
    const run = runId ?? (await database.pool.query<{ run_id: string }>('SELECT run_id FROM etl.published')).rows[0]?.run_id ?? null;
    if (run === null) return true;
    const started = performance.now();
    let built = 0;
    for (const table of TABLES) {
      if (signal?.aborted) return false;
      const { rows } = await database.pool.query<{ built: number }>('SELECT etl.build_read_indexes($1, $2) AS built', [run, table]);
      built += rows[0]!.built;
      // The visibility map, so that a broad search's matches are gathered from the name and email
      // indexes alone (index-only scans); a fresh partition has none until autovacuum comes by.
      if (table === 'user_features' && rows[0]!.built > 0) await database.pool.query(`VACUUM mart.user_features_run_${Number(run)}`);
    }
    const ms = Math.round(performance.now() - started);
    if (built > 0)
      log(`run ${run}: the features page's ${built} indexes built in ${ms} ms`, {
        run_id: Number(run),
        step: 'read-indexes',
        duration_ms: ms,
      });
    await dropStale(database);
    return true;
  } catch (error) {
    log(`could not build the features page's indexes yet (the pages work, slower): ${(error as Error).message}`, {}, 'warn');
    return false;
  } finally {
    signal?.removeEventListener('abort', cancel);
  }
}

async function dropStale(database: DbHandle): Promise<void> {
  const client = await database.pool.connect();
  try {
    await client.query(`SET lock_timeout = '${DROP_WAIT}'`);
    const { rows } = await client.query<{ statement: string }>('SELECT etl.stale_read_index_drops() AS statement');
    // One waiting on a reader of an old run is left to the next run.
    for (const { statement } of rows) await client.query(statement).catch(() => {});
  } finally {
    await client.query('RESET lock_timeout').catch(() => {});
    client.release();
  }
}

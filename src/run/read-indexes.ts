// The features page's indexes (sql/000019-read-indexes.sql), built on the published run's
// partitions after the publish, not inside the run: the run's answer and its time to publish are
// unchanged, and the pages read correctly (only slower) until they exist.
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
 * Builds the read indexes `runId` (null: the published run) lacks, then drops those of runs no
 * longer published (their features stay for KEEP_RUNS; the diff does not use them). Idempotent:
 * called after each successful run and at start-up, which finishes a build a kill interrupted.
 * Failures are logged, never thrown: without the indexes the pages are slower, not wrong. On Citus
 * nothing is built (the shards' plans differ; docs/api.md). Counted among the process's runs, so a
 * graceful stop cancels and waits for it (`signal`).
 */
export function buildReadIndexes(database: DbHandle, runId: number | null, log: Log, signal?: AbortSignal): Promise<void> {
  if (isCitus(database.mode)) return Promise.resolve();
  return trackRun(build(database, runId, log, signal));
}

async function build(database: DbHandle, runId: number | null, log: Log, signal?: AbortSignal): Promise<void> {
  const cancel = () => void database.cancelQueries().catch(() => {});
  signal?.addEventListener('abort', cancel);
  try {
    const run = runId ?? (await database.pool.query<{ run_id: string }>('SELECT run_id FROM etl.published')).rows[0]?.run_id ?? null;
    if (run === null) return;
    const started = performance.now();
    let built = 0;
    for (const table of TABLES) {
      if (signal?.aborted) return;
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
  } catch (error) {
    log(`could not build the features page's indexes yet (the pages work, slower): ${(error as Error).message}`, {}, 'warn');
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

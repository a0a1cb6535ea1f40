// The run records' writes: a run's row and its files' progress, totals and failure. Only the
// run (src/run/) writes them; the API and the dashboard read them through src/read/runs.ts.
import { sql, type Kysely } from 'kysely';
import type { Database, RunSource, RunWarning } from '../db/schema.js';
import { EXPERIMENTS, SOURCES, USERS } from '../load/inputs.js';

/**
 * Records a new run (status `running`) with a row per input file. Call only while holding the run
 * lock: runs still marked `running` then belong to a process that died, and are marked failed.
 */
export async function createRun(db: Kysely<Database>, source: RunSource = 'data_dir'): Promise<number> {
  return db.transaction().execute(async (trx) => {
    await failInterruptedRuns(trx);
    const { run_id } = await trx.insertInto('etl.runs').values({ source }).returning('run_id').executeTakeFirstOrThrow();
    await trx
      .insertInto('etl.run_files')
      .values(SOURCES.map((s) => ({ run_id, file: s.file })))
      .execute();
    return run_id;
  });
}

export async function setStep(db: Kysely<Database>, runId: number, step: string): Promise<void> {
  await db.updateTable('etl.runs').set({ step }).where('run_id', '=', runId).execute();
}

export async function setFileProgress(
  db: Kysely<Database>,
  runId: number,
  file: string,
  progress: { bytes: number; rows_read: number },
): Promise<void> {
  await db.updateTable('etl.run_files').set(progress).where('run_id', '=', runId).where('file', '=', file).execute();
}

/** What one file contributed to a run. */
export interface FileTotals {
  file: string;
  rows_loaded: number;
  rows_rejected: number;
}

/**
 * Records the run's totals inside its transform transaction, and its success when it is about to
 * publish, so that they commit together with the published results.
 */
export async function recordTotals(
  trx: Kysely<Database>,
  runId: number,
  totals: FileTotals[],
  warnings: RunWarning[],
  succeeded: boolean,
): Promise<void> {
  for (const { file, rows_loaded, rows_rejected } of totals) {
    await trx
      .updateTable('etl.run_files')
      .set({ rows_loaded, rows_rejected })
      .where('run_id', '=', runId)
      .where('file', '=', file)
      .execute();
  }
  const users = totals.find((t) => t.file === USERS.file)!.rows_loaded;
  const experiments = totals.find((t) => t.file === EXPERIMENTS.file)!.rows_loaded;
  await trx
    .updateTable('etl.runs')
    .set({
      users,
      experiments,
      average_experiments_per_user: sql<number>`${experiments}::numeric / nullif(${users}::bigint, 0)`,
      warnings: JSON.stringify(warnings),
      ...(succeeded ? { status: 'succeeded' as const, step: null, finished_at: new Date() } : {}),
    })
    .where('run_id', '=', runId)
    .execute();
}

/** Records the success of a run whose totals are recorded, when it is about to publish (Citus: see transformAndPublish). */
export async function markSucceeded(trx: Kysely<Database>, runId: number): Promise<void> {
  await trx.updateTable('etl.runs').set({ status: 'succeeded', step: null, finished_at: new Date() }).where('run_id', '=', runId).execute();
}

/**
 * Records a run as failed. When the database does not answer (it stopped or restarted mid-run,
 * often the very reason the run failed), retries every second in the background until it does, so
 * the run does not read `running` once the database is back. The caller's answer is not delayed.
 */
export async function recordFailure(db: Kysely<Database>, runId: number, error: string, stillWanted: () => boolean): Promise<void> {
  const finishedAt = new Date();
  const record = () => failRun(db, runId, error, finishedAt);
  const retry = () => {
    const timer = setTimeout(() => {
      if (stillWanted()) record().catch(retry);
    }, 1000);
    timer.unref();
  };
  await record().catch(retry);
}

/**
 * Deletes the rejects of all but the newest `keep` runs (the published run's are always kept), so
 * that a run with millions of rejects does not stay in the database forever.
 */
/**
 * Retention (docs/day-two.md, "Retention and disk"): the rejects of all but the newest `keepRuns`
 * runs, and the records of all but the newest `keepRunRecords` (at least `keepRuns`), are deleted;
 * the published run keeps both, and a run whose features are still attached keeps its record (a
 * diff shows it). The partitions are retired by retireOldRuns.
 */
export async function pruneHistory(db: Kysely<Database>, keepRuns: number, keepRunRecords: number): Promise<void> {
  const olderThanNewest = (keep: number) =>
    sql<boolean>`run_id < (SELECT min(run_id) FROM (SELECT run_id FROM etl.runs ORDER BY run_id DESC LIMIT ${keep}) newest)
      AND run_id NOT IN (SELECT run_id FROM etl.published)`;
  await db.transaction().execute(async (trx) => {
    await trx.deleteFrom('etl.rejects').where(olderThanNewest(keepRuns)).execute();
    // etl.run_files goes with its run (ON DELETE CASCADE); a run still running is among the newest.
    await trx
      .deleteFrom('etl.runs')
      .where(olderThanNewest(Math.max(keepRuns, keepRunRecords)))
      .where('run_id', 'not in', (eb) => eb.selectFrom('etl.runs_with_features').select('run_id'))
      .execute();
  });
}

export async function failRun(db: Kysely<Database>, runId: number, error: string, finishedAt: Date): Promise<void> {
  await db
    .updateTable('etl.runs')
    .set({ status: 'failed', error, step: null, finished_at: finishedAt })
    .where('run_id', '=', runId)
    .execute();
}

/**
 * Marks runs left `running` by a process that died as failed. Call only while holding the run
 * lock: then no run can really be in progress.
 */
export async function failInterruptedRuns(db: Kysely<Database>): Promise<void> {
  await db
    .updateTable('etl.runs')
    .set({ status: 'failed', error: 'interrupted: the service stopped before the run finished', step: null, finished_at: new Date() })
    .where('status', '=', 'running')
    .execute();
}

export async function runningRunId(db: Kysely<Database>): Promise<number | null> {
  const row = await db.selectFrom('etl.runs').select('run_id').where('status', '=', 'running').orderBy('run_id', 'desc').executeTakeFirst();
  return row?.run_id ?? null;
}

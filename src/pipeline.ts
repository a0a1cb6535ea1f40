import { CompiledQuery } from 'kysely';
import type { Database } from './db/database.js';
import { log as stderrLog, printable, type Log } from './log.js';
import { InputError, RunInProgressError, TooManyRejectsError } from './errors.js';
import { loadFile, openInputs } from './load/load-files.js';
import { SOURCES } from './load/sources.js';
import {
  createRun,
  failInterruptedRuns,
  failRun,
  getRun,
  runningRunId,
  setFileProgress,
  setStep,
  type RunRecord,
} from './runs.js';
import { publish, retireStatements, runStep, transformSteps, tuneTransaction } from './transform/transform.js';

/** Session-level advisory lock held for a whole run, so only one run happens per database. */
const RUN_LOCK = 7_310_002;

export interface EtlOptions {
  dataDir: string;
  maxRejectRatio: number;
  /** Aborting it cancels a run in progress (it then fails and publishes nothing). */
  signal?: AbortSignal;
  /** Where step timings and failures are reported; stderr by default. */
  log?: Log;
}

const active = new Set<Promise<unknown>>();

/** Settles once every run started in this process has finished (successfully or not). */
export const runsSettled = () => Promise.allSettled([...active]).then(() => {});

/** A run that started and failed; it is recorded as failed with `message`. */
export class RunFailedError extends Error {
  override name = 'RunFailedError';
  constructor(
    readonly runId: number,
    /** input: the files (HTTP 422); unavailable: the database went away (503); internal: anything else (500). */
    readonly kind: 'input' | 'unavailable' | 'internal',
    message: string,
  ) {
    super(printable(message));
  }
}

/**
 * Runs the whole ETL once: files -> COPY -> staging -> (one transaction) core + rejects -> features
 * -> publish. Readers keep seeing the previous run until the transaction commits; a failure leaves
 * them exactly as they were. Throws RunInProgressError when another run holds the lock (in this
 * or any other process), RunFailedError when the run fails.
 */
export function runEtl(database: Database, options: EtlOptions): Promise<RunRecord> {
  const run = lockedRun(database, options);
  active.add(run);
  void run.catch(() => {}).finally(() => active.delete(run));
  return run;
}

async function lockedRun(database: Database, options: EtlOptions): Promise<RunRecord> {
  const outcome = await withRunLock(database, () => recordedRun(database, options));
  // The lock's connection is back in the pool by now: many simultaneous triggers each waiting on a
  // second connection for this lookup would otherwise exhaust the pool.
  if (!outcome.locked) throw new RunInProgressError(await lockHolderRunId(database));
  return outcome.value;
}

/**
 * Runs `work` while holding the run lock (a session-level advisory lock on a connection of its own),
 * or returns at once when another session holds it.
 */
async function withRunLock<T>(
  { pool }: Database,
  work: () => Promise<T>,
): Promise<{ locked: true; value: T } | { locked: false }> {
  const lock = await pool.connect();
  let broken = false;
  try {
    const { rows } = await lock.query<{ locked: boolean }>('SELECT pg_try_advisory_lock($1) AS locked', [RUN_LOCK]);
    if (!rows[0]?.locked) return { locked: false };
    try {
      return { locked: true, value: await work() };
    } finally {
      // If the connection died, so did the lock; the connection must not go back to the pool.
      await lock.query('SELECT pg_advisory_unlock($1)', [RUN_LOCK]).catch(() => (broken = true));
    }
  } finally {
    lock.release(broken);
  }
}

/** One run, recorded from start to finish; call only while holding the run lock. */
async function recordedRun(database: Database, options: EtlOptions): Promise<RunRecord> {
  const runId = await createRun(database.db);
  const cancel = () => void database.cancelQueries().catch(() => {});
  options.signal?.addEventListener('abort', cancel);
  try {
    if (options.signal?.aborted) throw options.signal.reason;
    await execute(database, runId, options);
  } catch (error) {
    const failure = options.signal?.aborted
      ? new RunFailedError(runId, 'unavailable', 'the run was cancelled: the service is shutting down')
      : toRunFailure(runId, error);
    (options.log ?? stderrLog)(`run ${runId} failed: ${failure.message}`);
    await recordFailure(database, runId, failure.message);
    throw failure;
  } finally {
    options.signal?.removeEventListener('abort', cancel);
  }
  return (await getRun(database.db, runId))!;
}

/**
 * Records a run as failed. When the database does not answer (it stopped or restarted mid-run,
 * often the very reason the run failed), retries every second in the background until it does, so
 * the run does not read `running` once the database is back. The caller's answer is not delayed.
 */
async function recordFailure({ db, pool }: Database, runId: number, error: string): Promise<void> {
  const finishedAt = new Date();
  const record = () => failRun(db, runId, error, finishedAt);
  const retry = () => {
    const timer = setTimeout(() => {
      if (!pool.ending) record().catch(retry);
    }, 1000);
    timer.unref();
  };
  await record().catch(retry);
}

/**
 * Marks runs left `running` by a process that was killed as failed, if no run is in progress now.
 * Called at start-up so a crash does not leave a run `running` forever.
 */
export async function recoverInterruptedRuns(database: Database): Promise<void> {
  await withRunLock(database, () => failInterruptedRuns(database.db));
}

/** The run of whoever holds the lock; it records its run right after locking, so wait a moment for it. */
async function lockHolderRunId({ db }: Database): Promise<number | null> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const runId = await runningRunId(db);
    if (runId !== null) return runId;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return null;
}

async function execute(database: Database, runId: number, options: EtlOptions): Promise<void> {
  const { pool, db } = database;
  const log = options.log ?? stderrLog;
  await setStep(db, runId, 'checking files');
  // Each file is opened (and checked) once, read through that descriptor, and closed after the load.
  const inputs = await openInputs(options.dataDir);
  try {
    await setStep(db, runId, 'loading');
    const loadStarted = performance.now();
    // One connection per file, in parallel. The first failure stops the other loads and is the one
    // reported (the others then only say "The operation was aborted").
    const abort = new AbortController();
    const signal = options.signal ? AbortSignal.any([abort.signal, options.signal]) : abort.signal;
    let firstFailure: unknown;
    await Promise.all(
      SOURCES.map(async (source) => {
        const client = await pool.connect();
        let failed = false;
        try {
          const report = (s: { bytesRead: number; rowsRead: number }) =>
            setFileProgress(db, runId, source.file, { bytes: s.bytesRead, rows_read: s.rowsRead });
          const stats = await loadFile(client, inputs.get(source.file), source, (s) => void report(s).catch(() => {}), signal);
          await report(stats);
        } catch (error) {
          failed = true;
          firstFailure ??= error;
          abort.abort();
        } finally {
          client.release(failed); // a connection whose COPY was cut off is not reused
        }
      }),
    );
    if (firstFailure !== undefined) throw firstFailure;

    log(`run ${runId}: loading took ${Math.round(performance.now() - loadStarted)} ms`);
  } finally {
    await inputs.close();
  }

  const steps = await transformSteps();
  const tooManyRejects = await db.transaction().execute(async (trx) => {
    await tuneTransaction(trx);
    for (const step of steps) {
      options.signal?.throwIfAborted();
      await setStep(db, runId, step.name);
      const started = performance.now();
      await runStep(trx, step, runId);
      log(`run ${runId}: ${step.name} took ${Math.round(performance.now() - started)} ms`);
    }
    // etl.runs is now locked by this transaction (run totals): later updates must go through trx.
    const files = await trx.selectFrom('etl.run_files').selectAll().where('run_id', '=', runId).execute();
    const bad = files.filter((f) => f.rows_read > 0 && (f.rows_rejected ?? 0) / f.rows_read > options.maxRejectRatio);
    if (bad.length > 0) {
      // Commit the rejects so they can be inspected, but publish nothing.
      return bad
        .map((f) => `${f.file}: ${f.rows_rejected} of ${f.rows_read} rows were rejected, more than MAX_REJECT_RATIO=${options.maxRejectRatio} allows`)
        .join('; ');
    }
    await publish(trx, runId);
    await trx
      .updateTable('etl.runs')
      .set({ status: 'succeeded', step: null, finished_at: new Date() })
      .where('run_id', '=', runId)
      .execute();
    return null;
  });
  if (tooManyRejects) throw new TooManyRejectsError(`${tooManyRejects}; see GET /runs/${runId}/rejects`);

  // Older runs' partitions: detach (without blocking readers), then drop. Failing here loses
  // nothing: the next run retries.
  try {
    for (let pass = 0; pass < 2; pass++) {
      for (const statement of await retireStatements(db)) await db.executeQuery(CompiledQuery.raw(statement));
    }
  } catch (error) {
    log(`run ${runId}: could not drop the previous run's tables yet: ${(error as Error).message}`);
  }
}

function toRunFailure(runId: number, error: unknown): RunFailedError {
  if (error instanceof InputError || error instanceof TooManyRejectsError) return new RunFailedError(runId, 'input', error.message);
  const message = error instanceof Error ? error.message : String(error);
  if (lostDatabase(error)) {
    return new RunFailedError(runId, 'unavailable', `the run failed: the connection to the database was lost (${message})`);
  }
  return new RunFailedError(runId, 'internal', `the run failed: ${message}`);
}

/**
 * The database went away (stopped, restarted, crashed, unreachable): pg then reports it in many
 * ways ("write ECONNRESET", "Connection terminated unexpectedly", SQLSTATE 08xxx or 57P01-57P03).
 */
function lostDatabase(error: unknown): boolean {
  const code = String((error as { code?: unknown } | null)?.code ?? '');
  if (/^(ECONNRESET|ECONNREFUSED|EPIPE|ETIMEDOUT|EHOSTUNREACH|ENETUNREACH)$|^08|^57P0[123]$/.test(code)) return true;
  return /connection terminated|connection error|timeout exceeded when trying to connect/i.test((error as Error | null)?.message ?? '');
}

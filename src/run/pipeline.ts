import { isCitus } from '../db/citus.js';
import type { DbHandle } from '../db/connect.js';
import { DEFAULT_MAX_DROP_RATIO, DEFAULT_WARN_REJECT_RATIO } from '../support/config.js';
import { InputError, RunFailedError, RunInProgressError, toRunFailure } from '../support/errors.js';
import { log as stderrLog, type Log } from '../support/log.js';
import { loadFiles, openInputs } from '../load/load-files.js';
import type { CsvStats } from '../load/csv-to-copy.js';
import { EXPERIMENTS, USERS } from '../load/inputs.js';
import { withRunLock } from './run-lock.js';
import { getRun, type RunRecord } from '../read/runs.js';
import { createRun, failInterruptedRuns, pruneHistory, recordFailure, runningRunId, setFileProgress, setStep } from './run-records.js';
import { retireOldRuns } from './retire.js';
import { trackRun } from './runs-in-process.js';
import { transformAndPublish, transformSteps } from './transform.js';

export { RunFailedError };

export interface EtlOptions {
  dataDir: string;
  maxRejectRatio: number;
  /** A file losing more than this share of its rows gives a successful run a warning (default DEFAULT_WARN_REJECT_RATIO). */
  warnRejectRatio?: number;
  /** The publish guard (default DEFAULT_MAX_DROP_RATIO): see TransformOptions.maxDropRatio. */
  maxDropRatio?: number;
  /** Publish even when the publish guard would refuse the run (POST /data?force=1, `npm run etl -- --force`). */
  force?: boolean;
  /** Publish a run whose users or experiments file has no data rows (otherwise it fails with 422). */
  allowEmpty?: boolean;
  /** The loader's typing fast path (on by default); off, every row is judged by the SQL. */
  typedFastPath?: boolean;
  /**
   * Rejects are kept for this many of the newest runs, and features for this many of the newest
   * successful runs (default 20; the published run's always).
   */
  keepRuns?: number;
  /** Run records are kept for this many of the newest runs (default 1000; never fewer than keepRuns). */
  keepRunRecords?: number;
  /** Where the transform steps are read from; `sql/transform/` by default. */
  transformDir?: string;
  /** Aborting it cancels a run in progress (it then fails and publishes nothing). */
  signal?: AbortSignal;
  /** Where step timings and failures are reported; stderr by default. */
  log?: Log;
  /** Told the run's current step and each file's counters as they change (the CLI's progress bar). */
  onProgress?: (progress: RunProgress) => void;
  /**
   * Told how the attempt ended, once: the run, or what was thrown (RunInProgressError when another
   * run held the lock, RunFailedError when the run failed). Metrics listen here.
   */
  onEnd?: (end: RunEnd) => void;
  /**
   * The files arrive with the request (a multipart upload) instead of being read from `dataDir`.
   * `receive` is called once the run holds the lock and is recorded (`source: 'upload'`), so a
   * request that loses the race is answered 409 before anything of it is received.
   */
  upload?: { receive: (signal?: AbortSignal) => Promise<ReceivedFiles> };
}

/**
 * A private directory holding the three files of one run. `receive` removes what it wrote when it
 * fails; otherwise the run calls `remove` when it ends, whatever the outcome.
 */
export interface ReceivedFiles {
  dir: string;
  remove: () => Promise<void>;
}

/** How an attempt to run ended: its run record, or the error runEtl throws. */
export type RunEnd = { run: RunRecord } | { error: unknown };

export interface RunProgress {
  runId: number;
  step: string;
  files: Record<string, CsvStats>;
}

/**
 * Runs the whole ETL once: files -> COPY -> staging -> (one transaction) core + rejects -> features
 * -> publish. Readers keep seeing the previous run until the transaction commits; a failure leaves
 * them exactly as they were. Throws RunInProgressError when another run holds the lock (in this
 * or any other process), RunFailedError when the run fails.
 */
export function runEtl(database: DbHandle, options: EtlOptions): Promise<RunRecord> {
  return trackRun(lockedRun(database, options));
}

/**
 * Marks runs left `running` by a process that was killed as failed, if no run is in progress now.
 * Called at start-up so a crash does not leave a run `running` forever.
 */
export async function recoverInterruptedRuns(database: DbHandle): Promise<void> {
  await withRunLock(database.pool, () => failInterruptedRuns(database.db));
}

async function lockedRun(database: DbHandle, options: EtlOptions): Promise<RunRecord> {
  try {
    const outcome = await withRunLock(database.pool, () => recordedRun(database, options));
    // The lock's connection is back in the pool by now: many simultaneous triggers each waiting on a
    // second connection for this lookup would otherwise exhaust the pool.
    if (!outcome.locked) throw new RunInProgressError(await lockHolderRunId(database));
    options.onEnd?.({ run: outcome.value });
    return outcome.value;
  } catch (error) {
    options.onEnd?.({ error });
    throw error;
  }
}

/** The run of whoever holds the lock; it records its run right after locking, so wait a moment for it. */
async function lockHolderRunId({ db }: DbHandle): Promise<number | null> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const runId = await runningRunId(db);
    if (runId !== null) return runId;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return null;
}

/** One run, recorded from start to finish; call only while holding the run lock. */
async function recordedRun(database: DbHandle, options: EtlOptions): Promise<RunRecord> {
  const log = options.log ?? stderrLog;
  const runId = await createRun(database.db, options.upload ? 'upload' : 'data_dir');
  const cancel = () => void database.cancelQueries().catch(() => {});
  options.signal?.addEventListener('abort', cancel);
  let received: ReceivedFiles | undefined;
  try {
    options.signal?.throwIfAborted();
    if (options.upload) {
      await setStep(database.db, runId, 'receiving the upload');
      received = await options.upload.receive(options.signal);
    }
    await execute(database, runId, received ? { ...options, dataDir: received.dir } : options, log);
  } catch (error) {
    const failure = options.signal?.aborted
      ? new RunFailedError(runId, 'unavailable', 'the run was cancelled: the service is shutting down')
      : toRunFailure(runId, error);
    log(`run ${runId} failed: ${failure.message}`, { run_id: runId, outcome: `failed_${failure.kind}` }, 'error');
    await recordFailure(database.db, runId, failure.message, () => !database.pool.ending);
    throw failure;
  } finally {
    options.signal?.removeEventListener('abort', cancel);
    await received?.remove().catch((error) => log(`run ${runId}: could not remove the received files: ${(error as Error).message}`));
    await pruneHistory(database.db, options.keepRuns ?? 20, options.keepRunRecords ?? 1000).catch((error) =>
      log(
        `run ${runId}: could not delete the rejects and records of older runs yet: ${(error as Error).message}`,
        { run_id: runId },
        'warn',
      ),
    );
  }
  const run = (await getRun(database.db, runId))!;
  log(`run ${runId} succeeded in ${run.duration_ms} ms`, {
    run_id: runId,
    duration_ms: run.duration_ms,
    files: run.files,
    features: run.features,
  });
  return run;
}

/** The data flow of a run: check the files, load them, transform and publish, retire older runs. */
async function execute(database: DbHandle, runId: number, options: EtlOptions, log: Log): Promise<void> {
  const { pool, db } = database;
  const progress: RunProgress = { runId, step: 'starting', files: {} };
  const step = async (name: string) => {
    progress.step = name;
    options.onProgress?.(progress);
    await setStep(db, runId, name);
  };

  await step('checking files');
  const steps = await transformSteps(options.transformDir, isCitus(database.mode));
  // Each file is opened (and checked) once, read through that descriptor, and closed after the load.
  const inputs = await openInputs(options.dataDir);
  let loaded: Record<string, CsvStats>;
  const loadStarted = performance.now();
  try {
    await step('loading');
    const onStats = (file: string, stats: CsvStats) => {
      progress.files[file] = { ...stats };
      options.onProgress?.(progress);
      void setFileProgress(db, runId, file, { bytes: stats.bytesRead, rows_read: stats.rowsRead }).catch(() => {});
    };
    loaded = await loadFiles(pool, inputs, runId, onStats, options.signal, options.typedFastPath ?? true, isCitus(database.mode));
  } finally {
    await inputs.close();
  }
  const loadMs = Math.round(performance.now() - loadStarted);
  const rowsRead = Object.fromEntries(Object.entries(loaded).map(([file, stats]) => [file, stats.rowsRead]));
  log(`run ${runId}: loading took ${loadMs} ms`, { run_id: runId, step: 'loading', duration_ms: loadMs, rows_read: rowsRead });
  for (const [file, stats] of Object.entries(loaded)) {
    await setFileProgress(db, runId, file, { bytes: stats.bytesRead, rows_read: stats.rowsRead });
  }
  if (!options.allowEmpty) requireRows(loaded);

  await transformAndPublish(db, runId, steps, {
    rowsRead,
    maxRejectRatio: options.maxRejectRatio,
    warnRejectRatio: options.warnRejectRatio ?? DEFAULT_WARN_REJECT_RATIO,
    maxDropRatio: options.maxDropRatio ?? DEFAULT_MAX_DROP_RATIO,
    force: options.force ?? false,
    signal: options.signal,
    onStep: step,
    onStepDone: (name, ms) =>
      log(`run ${runId}: ${name} took ${Math.round(ms)} ms`, { run_id: runId, step: name, duration_ms: Math.round(ms) }),
    citus: isCitus(database.mode),
  });

  await retireOldRuns(db, options.keepRuns ?? 20, isCitus(database.mode)).catch((error) =>
    log(`run ${runId}: could not drop the previous run's tables yet: ${(error as Error).message}`, { run_id: runId }, 'warn'),
  );
}

/** A data set without users or experiments would replace the published features with nothing. */
function requireRows(loaded: Record<string, CsvStats>): void {
  for (const { file } of [USERS, EXPERIMENTS]) {
    if (loaded[file]?.rowsRead === 0) {
      throw new InputError(
        file,
        'the file has no data rows, only a header; publishing it would empty the features (set ALLOW_EMPTY=1 to allow it)',
      );
    }
  }
}

import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { Kysely } from 'kysely';
import type { Database } from '../db/schema.js';
import { RunFailedError, type RunEnd, type RunProgress } from '../run/pipeline.js';
import type { RunRecord } from '../read/runs.js';
import { RunWarning } from '../http/schemas.js';

/** How a run ended, as counted by `etl_runs_total{outcome}`. */
export type RunOutcome = 'succeeded' | 'failed_input' | 'failed_unavailable' | 'failed_internal';
const OUTCOMES: RunOutcome[] = ['succeeded', 'failed_input', 'failed_unavailable', 'failed_internal'];
const WARNING_KINDS = RunWarning.shape.kind.options;

/**
 * The service's Prometheus metrics, in a registry of its own (one per app, so several apps in one
 * process, as in the tests, do not collide). HTTP metrics are fed by the request middleware; ETL
 * metrics by `runListener`, from the pipeline's `onProgress` and `onEnd` hooks and the run record.
 */
export class Metrics {
  readonly registry = new Registry();
  readonly contentType = this.registry.contentType;

  readonly httpDuration = new Histogram({
    name: 'http_request_duration_seconds',
    help: 'Time from receiving an HTTP request to its answer starting (for streamed answers, the first chunk), by method, route and status.',
    labelNames: ['method', 'route', 'status'] as const,
    buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300],
    registers: [this.registry],
  });

  readonly runs = new Counter({
    name: 'etl_runs_total',
    help: 'ETL runs started by this process, by outcome (succeeded, failed_input = HTTP 422, failed_unavailable = 503, failed_internal = 500).',
    labelNames: ['outcome'] as const,
    registers: [this.registry],
  });

  readonly inProgress = new Gauge({
    name: 'etl_run_in_progress',
    help: '1 while this process runs the ETL, else 0.',
    registers: [this.registry],
  });

  readonly lastRunId = new Gauge({
    name: 'etl_last_run_id',
    help: 'The id of the last run this process finished.',
    registers: [this.registry],
  });

  readonly lastRunSucceeded = new Gauge({
    name: 'etl_last_run_succeeded',
    help: '1 if the last run this process finished succeeded, 0 if it failed.',
    registers: [this.registry],
  });

  readonly lastRunDuration = new Gauge({
    name: 'etl_last_run_duration_seconds',
    help: 'Duration of the last run this process finished (from its run record).',
    registers: [this.registry],
    // A failed run's record may still be on its way (see runListener); a scrape waits for it.
    collect: () => this.#pending,
  });

  #pending: Promise<void> = Promise.resolve();
  #lastRun: number | undefined;

  readonly lastRunStepDuration = new Gauge({
    name: 'etl_last_run_step_duration_seconds',
    help: 'Duration of each step of the last run this process finished or is running (a step lasts until the next starts).',
    labelNames: ['step'] as const,
    registers: [this.registry],
  });

  readonly lastRunRows = {
    read: this.#rows('read', 'Data rows read from each input file by the last run (from its run record).'),
    loaded: this.#rows('loaded', 'Rows of each input file accepted by the last run (from its run record).'),
    rejected: this.#rows('rejected', 'Rows of each input file rejected by the last run (from its run record).'),
  };

  readonly runsWithWarnings = new Counter({
    name: 'etl_runs_with_warnings_total',
    help: 'Successful ETL runs of this process that published with warnings (too many rejects of a file for WARN_REJECT_RATIO, knock-on rejects).',
    registers: [this.registry],
  });

  readonly lastRunWarnings = new Gauge({
    name: 'etl_last_run_warnings',
    help: 'Warnings of the last run this process finished, by kind (rejects, knock_on_rejects); 0 for each kind it did not have.',
    labelNames: ['kind'] as const,
    registers: [this.registry],
  });

  readonly lastSuccess: Gauge;

  constructor(db?: Kysely<Database>) {
    collectDefaultMetrics({ register: this.registry });
    for (const outcome of OUTCOMES) this.runs.inc({ outcome }, 0);
    this.runsWithWarnings.inc(0);
    for (const kind of WARNING_KINDS) this.lastRunWarnings.set({ kind }, 0);
    this.inProgress.set(0);
    let known = false;
    this.lastSuccess = new Gauge({
      name: 'etl_last_success_timestamp_seconds',
      help: 'When the published run finished (Unix time): the last successful publish; 0 before any.',
      registers: [this.registry],
      // Seeded from the database on the first scrape, so a restart does not forget the last publish;
      // afterwards this process's runs keep it current.
      collect: async () => {
        if (known || !db) return;
        try {
          const row = await db
            .selectFrom('etl.published as p')
            .innerJoin('etl.runs as r', 'r.run_id', 'p.run_id')
            .select('r.finished_at')
            .executeTakeFirst();
          if (known) return;
          known = true;
          if (row?.finished_at) this.lastSuccess.set(row.finished_at.getTime() / 1000);
        } catch {
          // The database does not answer: try again on the next scrape.
        }
      },
    });
    this.#markKnown = () => (known = true);
  }

  #markKnown: () => void;

  #rows(kind: string, help: string) {
    // Waits for a failed run's record like lastRunDuration: prom-client reads the metrics of a
    // scrape side by side, so each one that comes from the record must wait for it itself.
    return new Gauge({
      name: `etl_last_run_rows_${kind}`,
      help,
      labelNames: ['file'] as const,
      registers: [this.registry],
      collect: () => this.#pending,
    });
  }

  /**
   * Listens to one attempt to run the ETL (pass its two functions in the run's EtlOptions): in
   * progress while it runs, the time of each step, then the outcome and the counters of its run
   * record. An attempt that could not start (another run holds the lock) is not counted.
   */
  runListener(record: (runId: number) => Promise<RunRecord | null>): {
    onProgress: (progress: RunProgress) => void;
    onEnd: (end: RunEnd) => void;
  } {
    let step: { name: string; started: number } | null = null;
    const endStep = () => {
      if (step) this.lastRunStepDuration.set({ step: step.name }, (performance.now() - step.started) / 1000);
    };
    const onProgress = (progress: RunProgress) => {
      if (step === null) {
        // The first report: this run holds the lock.
        this.inProgress.set(1);
        this.lastRunStepDuration.reset();
      }
      if (step?.name === progress.step) return;
      endStep();
      step = { name: progress.step, started: performance.now() };
    };
    const onEnd = (end: RunEnd) => {
      try {
        if ('run' in end) {
          endStep();
          this.#finished(end.run, 'succeeded');
        } else if (end.error instanceof RunFailedError) {
          const failure = end.error;
          endStep();
          const outcome = `failed_${failure.kind}` as const;
          this.#finished(null, outcome, failure.runId);
          // The failed run's record (duration, counts) is read in the background: the caller's answer
          // must not wait on the database, which may be the very thing that failed, or be closing on
          // shutdown. A scrape waits for it (see #pending).
          this.#pending = record(failure.runId).then(
            (run) => {
              // Unless a newer run finished meanwhile.
              if (run && this.#lastRun === failure.runId) this.#finished(run, outcome, failure.runId, false);
            },
            () => {},
          );
        }
      } finally {
        if (step !== null) this.inProgress.set(0);
      }
    };
    return { onProgress, onEnd };
  }

  #finished(run: RunRecord | null, outcome: RunOutcome, runId = run?.run_id, count = true): void {
    if (count) this.runs.inc({ outcome });
    this.#lastRun = runId;
    if (runId !== undefined) this.lastRunId.set(runId);
    this.lastRunSucceeded.set(outcome === 'succeeded' ? 1 : 0);
    for (const gauge of Object.values(this.lastRunRows)) gauge.reset();
    this.lastRunDuration.reset();
    for (const kind of WARNING_KINDS) this.lastRunWarnings.set({ kind }, run?.warnings.filter((w) => w.kind === kind).length ?? 0);
    if (count && run && run.warnings.length > 0) this.runsWithWarnings.inc();
    if (!run) return;
    if (run.duration_ms !== null) this.lastRunDuration.set(run.duration_ms / 1000);
    for (const [file, counts] of Object.entries(run.files)) {
      this.lastRunRows.read.set({ file }, counts.rows_read);
      if (counts.rows_loaded !== null) this.lastRunRows.loaded.set({ file }, counts.rows_loaded);
      if (counts.rows_rejected !== null) this.lastRunRows.rejected.set({ file }, counts.rows_rejected);
    }
    if (outcome === 'succeeded' && run.finished_at) {
      this.#markKnown();
      this.lastSuccess.set(run.finished_at.getTime() / 1000);
    }
  }
}

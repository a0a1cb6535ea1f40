// SCHEDULE: runs the ETL on DATA_DIR on a cron pattern, inside the service. Built in rather than
// left to cron because the places the service runs often have no cron (the Docker image, a
// container platform), and because a run started here is counted in /metrics like one started by
// POST /data. croner parses the pattern and computes the times; one run at a time is still the
// run lock's job, so a tick during a run (ours or anyone's) is skipped with a log line.
import { Cron } from 'croner';
import { getRun } from '../read/runs.js';
import { RunFailedError, runEtl } from '../run/pipeline.js';
import { RunInProgressError } from '../support/errors.js';
import { log } from '../support/log.js';
import type { ApiContext } from './context.js';

export function scheduleRuns({ database, readers, options, metrics }: ApiContext, pattern: string, signal?: AbortSignal): void {
  const job = new Cron(pattern, { protect: true, name: 'etl' }, async () => {
    const listener = metrics.runListener((runId) => getRun(readers.db, runId));
    try {
      await runEtl(database, { ...options, onProgress: listener.onProgress, onEnd: listener.onEnd });
    } catch (error) {
      if (error instanceof RunInProgressError) log(`scheduled run skipped: ${error.message}`, { run_id: error.runId }, 'warn');
      // A run that failed was logged by the pipeline, with its reason.
      else if (!(error instanceof RunFailedError)) log(`scheduled run failed: ${(error as Error).message}`, {}, 'error');
    }
  });
  signal?.addEventListener('abort', () => job.stop(), { once: true });
  log(`runs the ETL on the schedule "${pattern}"; the next at ${job.nextRun()?.toISOString()}`, { schedule: pattern });
}

import { printable } from './log.js';

/**
 * The input cannot be used at all (missing file or column, unreadable file): the run fails with HTTP 422.
 * The message is bounded and has its control characters escaped, whatever text the file held.
 */
export class InputError extends Error {
  readonly problem: string;
  constructor(
    readonly file: string,
    problem: string,
    readonly line?: number,
  ) {
    super(printable(`${file}${line === undefined ? '' : `, line ${line}`}: ${problem}`));
    this.problem = printable(problem);
    this.name = 'InputError';
  }
}

/**
 * The service or the CLI cannot start (port taken, database unusable, embedded PostgreSQL in use
 * or out of reach, a bad setting): the message is the one line printed, saying what to do.
 */
export class StartupError extends Error {
  override name = 'StartupError';
  constructor(message: string) {
    super(printable(message));
  }
}

/** Another run holds the lock: HTTP 409 with that run's id. */
export class RunInProgressError extends Error {
  constructor(readonly runId: number | null) {
    super(runId === null ? 'another run is in progress' : `run ${runId} is in progress`);
    this.name = 'RunInProgressError';
  }
}

/** The run finished loading but too many rows were rejected to publish it: HTTP 422. */
export class TooManyRejectsError extends Error {
  constructor(message: string) {
    super(printable(message));
    this.name = 'TooManyRejectsError';
  }
}

/**
 * The publish guard refused the run: it would publish far fewer users or experiments than the
 * published run (MAX_DROP_RATIO). HTTP 422; the message says how to publish it anyway.
 */
export class PublishGuardError extends Error {
  constructor(message: string) {
    super(printable(message));
    this.name = 'PublishGuardError';
  }
}

/** A run that started and failed; it is recorded as failed with `message`. */
export class RunFailedError extends Error {
  override name = 'RunFailedError';
  constructor(
    readonly runId: number,
    /** input: the files (HTTP 422); unavailable: the database went away or the service is stopping (503); internal: anything else (500). */
    readonly kind: 'input' | 'unavailable' | 'internal',
    message: string,
  ) {
    super(printable(message));
  }
}

/** What a run's failure is to its caller: bad input, a database that went away, or a defect. */
export function toRunFailure(runId: number, error: unknown): RunFailedError {
  if (error instanceof InputError || error instanceof TooManyRejectsError || error instanceof PublishGuardError)
    return new RunFailedError(runId, 'input', error.message);
  const message = error instanceof Error ? error.message : String(error);
  const worker = lostCitusWorker(error, message);
  if (worker) {
    return new RunFailedError(
      runId,
      'unavailable',
      `the run failed: the Citus worker ${worker} did not answer; nothing was published (run again once it is back)`,
    );
  }
  if (databaseUnavailable(error)?.lost) {
    return new RunFailedError(runId, 'unavailable', `the run failed: the connection to the database was lost (${message})`);
  }
  if (String((error as { code?: unknown } | null)?.code) === '55P03') {
    return new RunFailedError(runId, 'internal', `the run failed: it waited too long for a database lock (${message})`);
  }
  return new RunFailedError(runId, 'internal', `the run failed: ${message}`);
}

const DOES_NOT_ANSWER = 'the database does not answer';

/**
 * The node (host:port, without the user name Citus puts before it) when a Citus coordinator reports
 * that it lost a worker: its messages vary with the moment (a COPY, a query, a commit), and an error
 * the worker itself sent as it shut down (57P01 and the like) comes relayed, with the node only in
 * its context.
 */
function lostCitusWorker(error: unknown, message: string): string | null {
  const code = String((error as { code?: unknown } | null)?.code ?? '');
  const where = String((error as { where?: unknown } | null)?.where ?? '');
  const match =
    /connection to the remote node (?:[^@\s]+@)?(\S+:\d+) failed/.exec(message) ??
    /failed to COPY to shard \d+ on (\S+:\d+)/.exec(message) ??
    /failure on connection marked as essential: (\S+:\d+)/.exec(message) ??
    (/^08|^57P0[123]$/.test(code) ? /while executing command on (\S+:\d+)/.exec(where) : null);
  return match?.[1] ?? null;
}

/**
 * The one classifier of database failures that say "not now" rather than "broken": `reason` is
 * what the API answers (503 with Retry-After), `lost` whether the connection went away (the
 * database stopped, restarted, crashed or is unreachable; a run then fails as `unavailable`). pg
 * reports a lost database in many ways ("write ECONNRESET", "Connection terminated unexpectedly",
 * SQLSTATE 08xxx or 57P01-57P03), and a pool with no free connection as "timeout exceeded when
 * trying to connect".
 */
export function databaseUnavailable(error: unknown): { reason: string; lost: boolean } | null {
  const code = String((error as { code?: unknown } | null)?.code ?? '');
  const message = (error as Error | null)?.message ?? '';
  if (/timeout exceeded when trying to connect/i.test(message)) return { reason: 'all database connections are busy', lost: true };
  if (code === '57014') return { reason: 'the database took too long to answer', lost: false };
  if (/^(ECONNRESET|ECONNREFUSED|EPIPE|ETIMEDOUT|EHOSTUNREACH|ENETUNREACH)$|^08|^57P0[123]$/.test(code))
    return { reason: DOES_NOT_ANSWER, lost: true };
  // Insufficient resources (too many connections, disk full): not now, but the connection is there.
  if (/^53/.test(code)) return { reason: DOES_NOT_ANSWER, lost: false };
  if (/connection terminated|connection error|Connection refused/i.test(message)) return { reason: DOES_NOT_ANSWER, lost: true };
  return null;
}

/**
 * A multipart upload that cannot be used (a part missing, unknown, repeated or not a file, a body
 * over MAX_UPLOAD_BYTES, malformed, or cut off): HTTP `status`. It is an InputError, so a run it
 * ends is recorded as failed with this message, like any unusable input.
 */
export class UploadError extends InputError {
  constructor(
    readonly status: 400 | 413 | 422,
    problem: string,
  ) {
    super('upload', problem);
    this.name = 'UploadError';
  }
}

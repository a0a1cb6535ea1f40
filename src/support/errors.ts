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
  if (error instanceof InputError || error instanceof TooManyRejectsError) return new RunFailedError(runId, 'input', error.message);
  const message = error instanceof Error ? error.message : String(error);
  if (lostDatabase(error)) {
    return new RunFailedError(runId, 'unavailable', `the run failed: the connection to the database was lost (${message})`);
  }
  if (String((error as { code?: unknown } | null)?.code) === '55P03') {
    return new RunFailedError(runId, 'internal', `the run failed: it waited too long for a database lock (${message})`);
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

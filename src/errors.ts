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

/** The input cannot be used at all (missing file or column, unreadable file): the run fails with HTTP 422. */
export class InputError extends Error {
  constructor(
    readonly file: string,
    readonly problem: string,
    readonly line?: number,
  ) {
    super(`${file}${line === undefined ? '' : `, line ${line}`}: ${problem}`);
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
    super(message);
    this.name = 'TooManyRejectsError';
  }
}

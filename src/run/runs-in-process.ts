// The runs this process has started and not yet finished: what a graceful stop (src/server.ts)
// waits for before it closes the database. One registry for the process, apart from the pipeline
// that adds to it.
const running = new Set<Promise<unknown>>();

/** Counts `run` as running in this process until it settles; returns it. */
export function trackRun<T>(run: Promise<T>): Promise<T> {
  running.add(run);
  void run.catch(() => {}).finally(() => running.delete(run));
  return run;
}

/** Settles once every run started in this process has finished (successfully or not). */
export const runsSettled = () => Promise.allSettled([...running]).then(() => {});

/** Operational messages. They go to stderr so that stdout stays for results (the CLI's JSON). */
export type Log = (message: string) => void;

export const log: Log = (message) => {
  process.stderr.write(`${new Date().toISOString()} ${message}\n`);
};

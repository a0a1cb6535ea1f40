import type { Source } from './inputs.js';

/** What the loader gives the load worker for one run. */
export interface WorkerInput {
  /** For each source, in the same order: its open descriptor (the loader's; the worker never closes it) and its size when opened. */
  files: { fd: number; size: number }[];
  runId: number;
  sources: readonly Source[];
  /** Use the typing layer's fast path (false: every row takes the text path, as a reference). */
  typed: boolean;
  /** The database is a Citus coordinator: the typed tables are distributed before they are filled. */
  citus: boolean;
  /** pg.Client settings of the worker's two connections (those of the run's pool). */
  connection: { connectionString: string; application_name: string; lock_timeout?: number };
}

/** `commit`: the file the worker asked about (`check`) did not change while it was read. */
export type ToWorker = { type: 'start'; input: WorkerInput } | { type: 'commit' };

export type FromWorker =
  | { type: 'begin'; file: string }
  | { type: 'progress'; file: string; bytesRead: number; rowsRead: number }
  | { type: 'check'; file: string; bytesRead: number }
  | { type: 'end'; file: string; bytesRead: number; rowsRead: number; typedRows: number }
  | { type: 'done' }
  | { type: 'failed'; message: string; code?: string; input?: { file: string; problem: string; line?: number } };

import type { Source } from './sources.js';

/** What the loader gives the parse worker. */
export interface WorkerInput {
  /** For each source, in the same order: its open descriptor (the loader's; the worker never closes it) and its size when opened. */
  files: { fd: number; size: number }[];
  sources: readonly Source[];
  /** Use the typing layer's fast path (false: every row takes the text path, as a reference). */
  typed: boolean;
}

export type ToWorker = { type: 'ack' } | { type: 'start'; input: WorkerInput };

export type FromWorker =
  | { type: 'begin'; file: string }
  | { type: 'chunk'; file: string; typed: Uint8Array; text: Uint8Array; bytesRead: number; rowsRead: number }
  | { type: 'end'; file: string; bytesRead: number; rowsRead: number; typedRows: number }
  | { type: 'done' }
  | { type: 'failed'; message: string; input?: { file: string; problem: string; line?: number } };

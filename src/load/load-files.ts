import { constants } from 'node:fs';
import { open, readlink, realpath, stat, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { InputError } from '../errors.js';
import { CsvToCopy, type CsvStats } from './csv-to-copy.js';
import { SOURCES, type Source } from './sources.js';

/**
 * Never blocks (a FIFO or device opens at once and is then refused), never follows a symlink as its
 * last step (the path opened is already resolved, see openInput).
 */
const OPEN_FLAGS = constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOFOLLOW;

/** One input file, opened once: it is checked and read through this descriptor only. */
export interface InputFile {
  file: string;
  handle: FileHandle;
  /** Size and modification time when it was opened: it is read up to `size` and must not change. */
  size: number;
  mtimeNs: bigint;
}

export interface Inputs {
  get(file: string): InputFile;
  /** Closes every file; call it once the loads have ended, whether they succeeded or not. */
  close(): Promise<void>;
}

/**
 * Opens the three input files, each once, and checks each open descriptor: a regular file inside
 * the data directory. Fails with a message naming the file when one is missing, not a regular file,
 * unreadable, or a symlink leading out of the data directory. Opening never blocks, so what the
 * check saw is exactly what is read, whatever is swapped in under the same name afterwards.
 */
export async function openInputs(dataDir: string): Promise<Inputs> {
  const dir = await stat(dataDir).catch(() => null);
  if (!dir?.isDirectory()) throw new InputError(dataDir, 'the data directory does not exist or is not a directory');
  const realDir = await realpath(dataDir);
  const opened = new Map<string, InputFile>();
  const close = () => Promise.all([...opened.values()].map((input) => input.handle.close().catch(() => {}))).then(() => {});
  try {
    for (const { file } of SOURCES) opened.set(file, await openInput(realDir, file));
  } catch (error) {
    await close();
    throw error;
  }
  return { get: (file) => opened.get(file)!, close };
}

async function openInput(realDir: string, file: string): Promise<InputFile> {
  // Symlinks may be followed while they stay inside the data directory: resolve, compare, then open
  // the resolved path without following a symlink that may have been put there since.
  const target = await realpath(path.join(realDir, file)).catch((error: unknown) => {
    throw openError(file, error);
  });
  if (!inside(realDir, target)) throw new InputError(file, OUTSIDE);
  const handle = await open(target, OPEN_FLAGS).catch((error: unknown) => {
    throw openError(file, error);
  });
  try {
    const info = await handle.stat({ bigint: true });
    if (!info.isFile()) throw new InputError(file, 'is not a regular file');
    // A directory on the resolved path could have been swapped for a symlink between realpath and
    // open; where the system names the open file (Linux), check that too.
    const opened = await readlink(`/proc/self/fd/${handle.fd}`).catch(() => null);
    if (opened?.startsWith('/') && !inside(realDir, opened.replace(/ \(deleted\)$/, ''))) throw new InputError(file, OUTSIDE);
    return { file, handle, size: Number(info.size), mtimeNs: info.mtimeNs };
  } catch (error) {
    await handle.close().catch(() => {});
    throw error;
  }
}

const OUTSIDE = 'is a symbolic link to a file outside the data directory, which is not followed';

function inside(dir: string, target: string): boolean {
  return target === dir || target.startsWith(dir.endsWith(path.sep) ? dir : dir + path.sep);
}

function openError(file: string, error: unknown): unknown {
  const code = (error as NodeJS.ErrnoException).code;
  if (code === 'EACCES' || code === 'EPERM') return new InputError(file, 'the file is not readable (permission denied)');
  if (code === 'ENOENT') return new InputError(file, 'the file is missing from the data directory');
  if (code === 'ELOOP') return new InputError(file, 'is a symbolic link that cannot be resolved (a loop, or replaced while opening)');
  return error;
}

/**
 * Streams one opened CSV file into its staging table: `TRUNCATE` + `COPY ... FROM STDIN (FREEZE)` in
 * one transaction, so the rows are written once and never revisited for visibility hints. Reads the
 * file up to the size it had when opened; if it changed meanwhile (written to, truncated), nothing
 * is committed and the run fails: a half-written last line is never loaded as a row.
 */
export async function loadFile(
  client: pg.PoolClient,
  input: InputFile,
  source: Source,
  onStats: (stats: CsvStats) => void,
  signal?: AbortSignal,
): Promise<CsvStats> {
  const parser = new CsvToCopy({ file: source.file, columns: source.columns });
  const columns = ['line', 'parse_error', 'raw', ...source.columns].join(', ');
  const timer = setInterval(() => onStats(parser.stats), 500);
  try {
    await client.query('BEGIN');
    await client.query(`TRUNCATE staging.${source.table}`);
    const copy = client.query(copyFrom(`COPY staging.${source.table} (${columns}) FROM STDIN (FREEZE)`));
    const bytes =
      input.size === 0
        ? Readable.from([])
        : input.handle.createReadStream({ start: 0, end: input.size - 1, autoClose: false, highWaterMark: 1 << 20 });
    await pipeline(bytes, parser, copy, { signal });
    await checkUnchanged(input, parser.stats.bytesRead);
    await client.query('COMMIT');
    await client.query(`ANALYZE staging.${source.table}`);
  } catch (error) {
    await client.query('ROLLBACK').catch(() => {});
    throw error;
  } finally {
    clearInterval(timer);
  }
  onStats(parser.stats);
  return parser.stats;
}

/** Fails when the file's size or modification time changed since it was opened (same descriptor). */
async function checkUnchanged(input: InputFile, bytesRead: number): Promise<void> {
  const now = await input.handle.stat({ bigint: true });
  const size = Number(now.size);
  if (size === input.size && now.mtimeNs === input.mtimeNs && bytesRead === input.size) return;
  const what =
    size > input.size ? `it grew from ${input.size} to ${size} bytes`
    : size < input.size ? `it shrank from ${input.size} to ${size} bytes`
    : 'it was modified';
  throw new InputError(
    input.file,
    `the file changed while it was being read (${what}); nothing was loaded: run again once it is complete`,
  );
}

/**
 * Loads the three files in parallel, each on its own connection. The first failure stops the
 * other loads and is the one thrown (the others then only say "The operation was aborted").
 */
export async function loadFiles(
  pool: pg.Pool,
  inputs: Inputs,
  onStats: (file: string, stats: CsvStats) => void,
  signal?: AbortSignal,
): Promise<Record<string, CsvStats>> {
  const abort = new AbortController();
  const either = signal ? AbortSignal.any([abort.signal, signal]) : abort.signal;
  const loaded: Record<string, CsvStats> = {};
  let firstFailure: unknown;
  await Promise.all(
    SOURCES.map(async (source) => {
      const client = await pool.connect();
      let failed = false;
      try {
        loaded[source.file] = await loadFile(client, inputs.get(source.file), source, (stats) => onStats(source.file, stats), either);
      } catch (error) {
        failed = true;
        firstFailure ??= error;
        abort.abort();
      } finally {
        client.release(failed); // a connection whose COPY was cut off is not reused
      }
    }),
  );
  if (firstFailure !== undefined) throw firstFailure;
  return loaded;
}

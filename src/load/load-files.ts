import { constants } from 'node:fs';
import { open, readlink, realpath, stat, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import type pg from 'pg';
import { InputError } from '../support/errors.js';
import type { CsvStats } from './csv-to-copy.js';
import { SOURCES } from './inputs.js';
import type { FromWorker, ToWorker, WorkerInput } from './worker-protocol.js';

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

/** Fails when the file's size or modification time changed since it was opened (same descriptor). */
async function checkUnchanged(input: InputFile, bytesRead: number): Promise<void> {
  const now = await input.handle.stat({ bigint: true });
  const size = Number(now.size);
  if (size === input.size && now.mtimeNs === input.mtimeNs && bytesRead === input.size) return;
  const what =
    size > input.size
      ? `it grew from ${input.size} to ${size} bytes`
      : size < input.size
        ? `it shrank from ${input.size} to ${size} bytes`
        : 'it was modified';
  throw new InputError(input.file, `the file changed while it was being read (${what}); nothing was loaded: run again once it is complete`);
}

export interface LoadedFile extends CsvStats {
  typedRows: number;
}

/**
 * Loads the three files: a worker thread (parse-worker.ts) splits and types them one after the
 * other and, for each file, COPYs (FREEZE) the rows the typing layer proved valid, typed, into a
 * fresh `staging.<table>_typed`, which becomes this run's `core.<table>` partition (so they are
 * written once), and every other row, as text with its raw line, into `staging.<table>` for the
 * SQL to judge. Both COPYs of a file commit together when the file is done. The worker uses two
 * connections of its own with the pool's settings (its application_name, so cancelling the pool's
 * queries cancels them too).
 */
export async function loadFiles(
  pool: pg.Pool,
  inputs: Inputs,
  runId: number,
  onStats: (file: string, stats: CsvStats) => void,
  signal?: AbortSignal,
  typed = true,
  citus = false,
): Promise<Record<string, LoadedFile>> {
  const options = pool.options as { connectionString: string; application_name: string; lock_timeout?: number };
  // The worker reads through the descriptors opened here (threads share them), up to each file's
  // size when it was opened; before it commits a file, this side checks that it did not change.
  const files = SOURCES.map((s) => ({ fd: inputs.get(s.file).handle.fd, size: inputs.get(s.file).size }));
  const input: WorkerInput = {
    files,
    runId,
    sources: SOURCES,
    typed,
    citus,
    connection: {
      connectionString: options.connectionString,
      application_name: options.application_name,
      ...(options.lock_timeout === undefined ? {} : { lock_timeout: options.lock_timeout }),
    },
  };
  const worker = idleWorkers.pop() ?? startWorker();
  worker.removeAllListeners();
  worker.ref();
  const queue: FromWorker[] = [];
  let wake: (() => void) | null = null;
  let crashed: unknown = null;
  worker.on('message', (message: FromWorker) => {
    queue.push(message);
    wake?.();
  });
  worker.on('error', (error) => {
    crashed = error;
    wake?.();
  });
  worker.on('exit', (code) => {
    crashed ??= new Error(`the loader stopped unexpectedly (exit code ${code})`);
    wake?.();
  });
  const aborted = () => wake?.();
  signal?.addEventListener('abort', aborted);
  const next = async (): Promise<FromWorker> => {
    for (;;) {
      signal?.throwIfAborted();
      const message = queue.shift();
      if (message) return message;
      if (crashed) throw crashed;
      await new Promise<void>((resolve) => (wake = resolve));
      wake = null;
    }
  };
  worker.postMessage({ type: 'start', input } satisfies ToWorker);

  const loaded: Record<string, LoadedFile> = {};
  let reusable = false;
  try {
    for (;;) {
      const message = await next();
      if (message.type === 'progress') {
        onStats(message.file, message);
      } else if (message.type === 'check') {
        await checkUnchanged(inputs.get(message.file), message.bytesRead);
        worker.postMessage({ type: 'commit' } satisfies ToWorker);
      } else if (message.type === 'end') {
        loaded[message.file] = { bytesRead: message.bytesRead, rowsRead: message.rowsRead, typedRows: message.typedRows };
        onStats(message.file, message);
      } else if (message.type === 'failed') {
        if (message.input) throw new InputError(message.input.file, message.input.problem, message.input.line);
        throw Object.assign(new Error(message.message), message.code ? { code: message.code } : {});
      } else if (message.type === 'done') {
        reusable = true;
        return loaded;
      }
    }
  } finally {
    signal?.removeEventListener('abort', aborted);
    worker.removeAllListeners();
    if (reusable) {
      worker.unref();
      worker.on('error', () => {});
      worker.on('exit', () => idleWorkers.splice(idleWorkers.indexOf(worker) >>> 0, 1));
      idleWorkers.push(worker);
    } else {
      await worker.terminate();
    }
  }
}

/**
 * Parse workers between runs (a worker's start-up and memory are paid once, not per run); one
 * per run in progress at most, unreferenced so they never keep the process alive.
 */
const idleWorkers: Worker[] = [];

/**
 * A small young generation makes the worker collect often, so the chunk buffers it drops are
 * freed within a few chunks instead of piling up to V8's external-memory limit (Node RSS).
 */
const WORKER_LIMITS = { maxYoungGenerationSizeMb: 4 };

/** The worker runs the compiled .js; under tsx (tests, `npm run etl`) it registers tsx first. */
function startWorker(): Worker {
  const ts = import.meta.url.endsWith('.ts');
  const url = new URL(ts ? './parse-worker.ts' : './parse-worker.js', import.meta.url);
  if (!ts) return new Worker(url, { resourceLimits: WORKER_LIMITS });
  const api = import.meta.resolve('tsx/esm/api');
  const boot = `import(${JSON.stringify(api)}).then((m) => { m.register(); return import(${JSON.stringify(url.href)}); })`;
  return new Worker(boot, { eval: true, resourceLimits: WORKER_LIMITS });
}

/**
 * Worker thread: reads the three files one after the other (users and compounds first, so the
 * experiments' fast path knows which users and compounds were accepted), runs the splitter and the
 * typing layer, and posts COPY data to the main thread, which writes it to PostgreSQL. Parsing
 * here keeps the main thread's event loop free for HTTP requests while a run loads.
 *
 * Flow control: at most MAX_IN_FLIGHT chunks are posted and not yet acknowledged, so memory stays
 * bounded by a few chunks however fast the file is read. The worker is reused from run to run (one
 * `start` message per run); a run that fails terminates it.
 */
import { once } from 'node:events';
import { read as readCallback } from 'node:fs';
import { promisify } from 'node:util';
import { parentPort } from 'node:worker_threads';
import { InputError } from '../errors.js';
import { CsvToCopy } from './csv-to-copy.js';
import { CompoundTyper, ExperimentTyper, IdSet, UserTyper, type RowTyper } from './typed-rows.js';
import type { Source } from './sources.js';
import type { FromWorker, ToWorker, WorkerInput } from './worker-protocol.js';

const CHUNK = 1 << 18;
const read = promisify(readCallback);
const MAX_IN_FLIGHT = 2;

const port = parentPort!;
let inFlight = 0;
let wake: (() => void) | null = null;
port.on('message', (message: ToWorker) => {
  if (message.type === 'ack') {
    inFlight--;
    wake?.();
  } else if (message.type === 'start') {
    inFlight = 0;
    void run(message.input);
  }
});

const post = (message: FromWorker, transfer: ArrayBuffer[] = []) => port.postMessage(message, transfer);

/** Buffers that own their memory (not a slice of Node's shared pool) move to the main thread instead of being copied. */
const movable = (bufs: Buffer[]) =>
  bufs.filter((b) => b.byteOffset === 0 && b.buffer.byteLength === b.length && b.length > Buffer.poolSize).map((b) => b.buffer as ArrayBuffer);

async function credit(): Promise<void> {
  while (inFlight >= MAX_IN_FLIGHT) await new Promise<void>((resolve) => (wake = resolve));
  inFlight++;
}

function typerFor(input: WorkerInput, source: Source, known: { users: IdSet; compounds: IdSet }): RowTyper | undefined {
  if (!input.typed) return undefined;
  if (source.table === 'users') return new UserTyper(known.users);
  if (source.table === 'compounds') return new CompoundTyper(known.compounds);
  return new ExperimentTyper(known);
}

async function parseFile(file: { fd: number; size: number }, source: Source, typer: RowTyper | undefined): Promise<void> {
  const parser = new CsvToCopy({ file: source.file, columns: source.columns, ...(typer ? { typer } : {}) });
  const text: Buffer[] = [];
  parser.on('data', (chunk: Buffer) => text.push(chunk));
  const ended = once(parser, 'end');
  ended.catch(() => {});
  const send = async () => {
    await credit();
    const typed = typer?.takeOutput() ?? Buffer.alloc(0);
    const textOut = Buffer.concat(text);
    text.length = 0;
    post({ type: 'chunk', file: source.file, typed, text: textOut, ...parser.stats }, movable([typed, textOut]));
  };

  post({ type: 'begin', file: source.file });
  // One read buffer for the whole file: the parser copies what it keeps of a chunk. Reads stop at
  // the size the file had when the loader opened it: bytes appended since are not this run's.
  const buf = Buffer.allocUnsafe(CHUNK);
  for (let position = 0; position < file.size; ) {
    const { bytesRead } = await read(file.fd, buf, 0, Math.min(CHUNK, file.size - position), position);
    if (bytesRead === 0) break; // it shrank: the loader's check says so
    position += bytesRead;
    await new Promise<void>((resolve, reject) => parser.write(buf.subarray(0, bytesRead), (e) => (e ? reject(e) : resolve())));
    await new Promise((resolve) => setImmediate(resolve));
    await send();
  }
  parser.end();
  await ended;
  await send();
  post({ type: 'end', file: source.file, ...parser.stats, typedRows: typer?.typedRows ?? 0 });
}

async function run(input: WorkerInput): Promise<void> {
  try {
    const known = { users: new IdSet(), compounds: new IdSet() };
    for (const [i, source] of input.sources.entries()) await parseFile(input.files[i]!, source, typerFor(input, source, known));
    post({ type: 'done' });
  } catch (error) {
    if (error instanceof InputError) {
      const line = error.line === undefined ? {} : { line: error.line };
      post({ type: 'failed', input: { file: error.file, problem: error.problem, ...line }, message: error.message });
    } else {
      post({ type: 'failed', message: error instanceof Error ? error.message : String(error) });
    }
  }
}

/**
 * Worker thread that loads the three files: it reads them one after the other (users and
 * compounds first, so the experiments' fast path knows which users and compounds were accepted),
 * runs the splitter and the typing layer, and COPYs the result into PostgreSQL on two connections
 * of its own (typed rows and text rows). The main thread only starts it and hears progress, so its
 * event loop stays free for HTTP requests and no COPY buffer ever lands in its heap.
 *
 * Memory stays bounded by one 256 KB read buffer, its output, and what the sockets hold: each COPY
 * write waits for 'drain' before the next chunk is read. The worker is reused from run to run (one
 * `start` message per run); a run that fails or is cancelled terminates it (closing its
 * connections, so PostgreSQL rolls their transactions back).
 */
import { once } from 'node:events';
import { read as readCallback } from 'node:fs';
import os from 'node:os';
import { finished } from 'node:stream/promises';
import { promisify } from 'node:util';
import { parentPort } from 'node:worker_threads';
import pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { InputError } from '../support/errors.js';
import { CsvToCopy } from './csv-to-copy.js';
import { CompoundTyper, ExperimentTyper, IdSet, UserTyper, type RowTyper } from './typed-rows.js';
import type { Source } from './inputs.js';
import type { FromWorker, ToWorker, WorkerInput } from './worker-protocol.js';

const CHUNK = 1 << 18;
const read = promisify(readCallback);

/** Columns of each typed COPY stream, in the order the typing layer writes them. */
const TYPED_COLUMNS: Record<Source['table'], string> = {
  users: 'user_id, name, email, signup_date, line',
  compounds: 'compound_id, compound_name, compound_structure, line',
  experiments: 'experiment_id, user_id, compound_ids, run_time, line',
};

// Parsing yields the CPU to the main thread's HTTP reads: on Linux a nice value is per thread, and
// os.setPriority() with no pid sets this thread's. Best effort.
try {
  os.setPriority(10);
} catch {
  // not permitted here: parse at normal priority
}

const port = parentPort!;
/** Set while a file waits for the loader's go-ahead to commit (see loadFile). */
let commit: (() => void) | null = null;
port.on('message', (message: ToWorker) => {
  if (message.type === 'start') void run(message.input);
  else if (message.type === 'commit') commit?.();
});

const post = (message: FromWorker) => port.postMessage(message);

function typerFor(input: WorkerInput, source: Source, known: { users: IdSet; compounds: IdSet }): RowTyper | undefined {
  if (!input.typed) return undefined;
  if (source.table === 'users') return new UserTyper(known.users);
  if (source.table === 'compounds') return new CompoundTyper(known.compounds);
  return new ExperimentTyper(known);
}

type CopyStream = ReturnType<typeof copyFrom>;

/** Writes a chunk and waits until the stream wants more. */
async function write(stream: CopyStream, data: Buffer): Promise<void> {
  if (data.length > 0 && !stream.write(data)) await once(stream, 'drain');
}

async function loadFile(
  input: WorkerInput,
  file: { fd: number; size: number },
  source: Source,
  typer: RowTyper | undefined,
  typedDb: pg.Client,
  textDb: pg.Client,
): Promise<void> {
  const table = `staging.${source.table}`;
  const runId = Number(input.runId);
  await textDb.query('BEGIN');
  await textDb.query(`TRUNCATE ${table}`);
  const text = textDb.query(
    copyFrom(`COPY ${table} (${['line', 'parse_error', 'raw', 'raw_is_preview', ...source.columns].join(', ')}) FROM STDIN (FREEZE)`),
  );
  await typedDb.query('BEGIN');
  await typedDb.query(`DROP TABLE IF EXISTS ${table}_typed`);
  await typedDb.query(`CREATE TABLE ${table}_typed (LIKE core.${source.table}, CHECK (run_id = ${runId}))`);
  await typedDb.query(`ALTER TABLE ${table}_typed ALTER COLUMN run_id SET DEFAULT ${runId}`);
  // On Citus the typed rows go straight to the workers: the table is distributed like the core
  // table it becomes (sql/citus/distribute.sql), and Citus routes each COPYed row to its shard.
  // (FREEZE applies to a table made in this transaction on this server, which the shards are not.)
  if (input.citus) {
    await typedDb.query(
      source.table === 'compounds'
        ? `SELECT create_reference_table('${table}_typed')`
        : `SELECT create_distributed_table('${table}_typed', 'user_id', colocate_with => 'core.users')`,
    );
  }
  const typed = typedDb.query(copyFrom(`COPY ${table}_typed (${TYPED_COLUMNS[source.table]}) FROM STDIN${input.citus ? '' : ' (FREEZE)'}`));
  // A COPY the server refuses fails its stream; remember it so the loop stops at the next chunk.
  let streamError: unknown = null;
  for (const s of [text, typed]) s.on('error', (e) => (streamError ??= e));

  const parser = new CsvToCopy({ file: source.file, columns: source.columns, ...(typer ? { typer } : {}) });
  const textOut: Buffer[] = [];
  parser.on('data', (chunk: Buffer) => textOut.push(chunk));
  const ended = once(parser, 'end');
  ended.catch(() => {});
  const flush = async () => {
    if (streamError) throw streamError;
    const t = textOut.length === 1 ? textOut[0]! : Buffer.concat(textOut);
    textOut.length = 0;
    await Promise.all([write(typed, typer?.takeOutput() ?? Buffer.alloc(0)), write(text, t)]);
  };

  post({ type: 'begin', file: source.file });
  // One read buffer for the whole file: the parser copies what it keeps of a chunk. Reads stop at
  // the size the file had when the loader opened it: bytes appended since are not this run's.
  const buf = Buffer.allocUnsafe(CHUNK);
  let lastReport = 0;
  for (let position = 0; position < file.size;) {
    const { bytesRead } = await read(file.fd, buf, 0, Math.min(CHUNK, file.size - position), position);
    if (bytesRead === 0) break; // it shrank: the loader's check says so
    position += bytesRead;
    await new Promise<void>((resolve, reject) => parser.write(buf.subarray(0, bytesRead), (e) => (e ? reject(e) : resolve())));
    await new Promise((resolve) => setImmediate(resolve));
    await flush();
    if (Date.now() - lastReport > 500) {
      lastReport = Date.now();
      post({ type: 'progress', file: source.file, ...parser.stats });
    }
  }
  parser.end();
  await ended;
  await flush();
  typed.end();
  text.end();
  await Promise.all([finished(typed), finished(text)]);
  // The loader checks that the file did not change while it was read, then lets it commit.
  const goAhead = new Promise<void>((resolve) => (commit = resolve));
  post({ type: 'check', file: source.file, bytesRead: parser.stats.bytesRead });
  await goAhead;
  commit = null;
  await typedDb.query('COMMIT');
  await textDb.query('COMMIT');
  await textDb.query(`ANALYZE ${table}`);
  post({ type: 'end', file: source.file, ...parser.stats, typedRows: typer?.typedRows ?? 0 });
}

async function run(input: WorkerInput): Promise<void> {
  const connect = async () => {
    const client = new pg.Client({ ...input.connection, connectionTimeoutMillis: 10_000 });
    client.on('error', () => {}); // reported by the query that fails
    await client.connect();
    return client;
  };
  const clients: pg.Client[] = [];
  try {
    const typedDb = await connect();
    clients.push(typedDb);
    const textDb = await connect();
    clients.push(textDb);
    const known = { users: new IdSet(), compounds: new IdSet() };
    for (const [i, source] of input.sources.entries()) {
      await loadFile(input, input.files[i]!, source, typerFor(input, source, known), typedDb, textDb);
    }
    await Promise.all(clients.map((c) => c.end()));
    post({ type: 'done' });
  } catch (error) {
    // The main thread terminates this worker on failure, which closes the connections (and so
    // rolls back their transactions); no cleanup is attempted here.
    if (error instanceof InputError) {
      const line = error.line === undefined ? {} : { line: error.line };
      post({ type: 'failed', input: { file: error.file, problem: error.problem, ...line }, message: error.message });
    } else {
      const code = (error as { code?: unknown } | null)?.code;
      post({
        type: 'failed',
        message: error instanceof Error ? error.message : String(error),
        ...(typeof code === 'string' ? { code } : {}),
      });
    }
  }
}

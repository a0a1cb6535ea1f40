import { constants, createReadStream } from 'node:fs';
import { access, stat } from 'node:fs/promises';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import type pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { InputError } from '../errors.js';
import { CsvToCopy, type CsvStats } from './csv-to-copy.js';
import { SOURCES, type Source } from './sources.js';

/** Fails with a message naming the file when any input is missing, not a file, or unreadable. */
export async function checkInputs(dataDir: string): Promise<void> {
  const dir = await stat(dataDir).catch(() => null);
  if (!dir?.isDirectory()) throw new InputError(dataDir, 'the data directory does not exist or is not a directory');
  for (const { file } of SOURCES) {
    const full = path.join(dataDir, file);
    const info = await stat(full).catch(() => null);
    if (!info) throw new InputError(file, `the file is missing from the data directory`);
    if (!info.isFile()) throw new InputError(file, 'is not a regular file');
    await access(full, constants.R_OK).catch(() => {
      throw new InputError(file, 'the file is not readable (permission denied)');
    });
  }
}

/**
 * Streams one CSV file into its staging table: `TRUNCATE` + `COPY ... FROM STDIN (FREEZE)` in one
 * transaction, so the rows are written once and never revisited for visibility hints.
 */
export async function loadFile(
  client: pg.PoolClient,
  dataDir: string,
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
    await pipeline(createReadStream(path.join(dataDir, source.file), { highWaterMark: 1 << 20 }), parser, copy, { signal });
    await client.query('COMMIT');
    await client.query(`ANALYZE staging.${source.table}`);
  } catch (error) {
    await client.query('ROLLBACK').catch(() => {});
    throw readError(source.file, error);
  } finally {
    clearInterval(timer);
  }
  onStats(parser.stats);
  return parser.stats;
}

function readError(file: string, error: unknown): unknown {
  const code = (error as NodeJS.ErrnoException).code;
  if (code === 'EACCES') return new InputError(file, 'the file is not readable (permission denied)');
  if (code === 'EISDIR') return new InputError(file, 'is not a regular file');
  if (code === 'ENOENT') return new InputError(file, 'the file is missing from the data directory');
  return error;
}

/**
 * Loads the three files in parallel, each on its own connection. The first failure stops the
 * other loads and is the one thrown (the others then only say "The operation was aborted").
 */
export async function loadFiles(
  pool: pg.Pool,
  dataDir: string,
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
        loaded[source.file] = await loadFile(client, dataDir, source, (stats) => onStats(source.file, stats), either);
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

import type { z } from '@hono/zod-openapi';
import { sql, type Kysely, type SelectQueryBuilder } from 'kysely';
import type { Run } from '../http/schemas.js';
import type { Database } from '../db/schema.js';
import { csvText } from './csv.js';

/**
 * A run as the API and CLI show it: the API's Run, but with its times as Dates (JSON writes them as
 * the ISO strings the schema describes).
 */
export type RunRecord = Omit<z.infer<typeof Run>, 'started_at' | 'finished_at'> & { started_at: Date; finished_at: Date | null };

export async function getRun(db: Kysely<Database>, runId: number): Promise<RunRecord | null> {
  const [run] = await listRuns(db, { runId, limit: 1 });
  return run ?? null;
}

/** Newest first. */
export async function listRuns(db: Kysely<Database>, { runId, limit = 50 }: { runId?: number; limit?: number } = {}): Promise<RunRecord[]> {
  let query = db.selectFrom('etl.runs').selectAll().orderBy('run_id', 'desc').limit(limit);
  if (runId !== undefined) query = query.where('run_id', '=', runId);
  const runs = await query.execute();
  if (runs.length === 0) return [];
  const files = await db
    .selectFrom('etl.run_files')
    .selectAll()
    .where(
      'run_id',
      'in',
      runs.map((r) => r.run_id),
    )
    .execute();
  return runs.map((r) => ({
    run_id: r.run_id,
    status: r.status,
    source: r.source,
    step: r.step,
    started_at: r.started_at,
    finished_at: r.finished_at,
    duration_ms: r.finished_at ? r.finished_at.getTime() - r.started_at.getTime() : null,
    error: r.error,
    warnings: r.warnings,
    files: Object.fromEntries(
      files
        .filter((f) => f.run_id === r.run_id)
        .map((f) => [f.file, { bytes: f.bytes, rows_read: f.rows_read, rows_loaded: f.rows_loaded, rows_rejected: f.rows_rejected }]),
    ),
    features: { users: r.users, experiments: r.experiments, average_experiments_per_user: r.average_experiments_per_user },
  }));
}

/**
 * What a reject's reason says without its values: `user_id 999 is not an accepted user` and
 * `user_id 7 is not an accepted user` are both `user_id … is not an accepted user`. Every reason
 * names its values as numbers or as quoted literals (etl.quoted), so taking those out leaves one
 * text per rule, from the reasons themselves: no second list of the rules to keep in step. Worked
 * out when read (one regular expression per row: about 1.6 s per million rejects on a loaded
 * 2-core machine), not stored, so the load pays nothing for it.
 */
const reasonKind = sql<string>`regexp_replace(reason, ${"(\\mE)?'(?:[^']|'')*'|\\d+"}, '…', 'g')`;

/** Which of a run's rejects: those of one file, of one kind of reason (see reasonKind), or all. */
export interface RejectsFilter {
  file?: string | undefined;
  /** A reason with its values taken out, as rejectReasons lists them. */
  reason?: string | undefined;
}

export interface RejectsPage extends RejectsFilter {
  limit: number;
  offset: number;
}

/**
 * One page of a run's rejects: causes before consequences (users.csv, compounds.csv, then
 * user_experiments.csv, whose knock-on rejects point back at them), each file in line order.
 */
export async function listRejects(db: Kysely<Database>, runId: number, page: RejectsPage) {
  return rejectsQuery(db, runId, page).execute();
}

/** A run's rejects counted by file and kind of reason (see reasonKind), the commonest first. */
export async function rejectReasons(db: Kysely<Database>, runId: number): Promise<{ file: string; reason: string; rows: number }[]> {
  const { rows } = await sql<{ file: string; reason: string; rows: string }>`
    SELECT file, ${reasonKind} AS reason, count(*) AS rows
    FROM etl.rejects WHERE run_id = ${runId}
    GROUP BY 1, 2 ORDER BY 3 DESC, 1, 2`.execute(db);
  return rows.map((r) => ({ file: r.file, reason: r.reason, rows: Number(r.rows) }));
}

/** Reject rows per round trip while streaming; each carries at most 1000 bytes of its raw line. */
const REJECTS_BATCH = 500;
/** A response chunk is sent once it holds this many characters. */
const CHUNK_CHARS = 64 * 1024;

/**
 * `GET /runs/:id/rejects` as JSON text chunks, streamed through a cursor (Kysely's `.stream()`),
 * so a page never sits in memory whole. `db` must have a cursor.
 */
export async function* rejectsJson(db: Kysely<Database>, runId: number, page: RejectsPage): AsyncGenerator<string> {
  yield `{"run_id":${runId},"limit":${page.limit},"offset":${page.offset},"rejected":[`;
  let chunk = '';
  let count = 0;
  for await (const row of rejectsQuery(db, runId, page).stream(REJECTS_BATCH)) {
    chunk += `${count++ === 0 ? '' : ','}${JSON.stringify(row)}`;
    if (chunk.length >= CHUNK_CHARS) {
      yield chunk;
      chunk = '';
    }
  }
  yield `${chunk}]}`;
}

/** The columns of the rejects' CSV, in order: the fields of a reject in `GET /runs/:id/rejects`. */
export const REJECTS_CSV_COLUMNS = ['file', 'line', 'reason', 'raw', 'raw_bytes'] as const;

/**
 * A run's rejects (all of them, or those of `filter`) as RFC 4180 CSV text chunks, in file and line
 * order, rendered by PostgreSQL with the same spreadsheet safety as GET /data.csv (csv.ts) unless
 * `raw`, and streamed through a cursor. Records end in CRLF; a null raw_bytes is an empty field.
 */
export async function* rejectsCsv(
  db: Kysely<Database>,
  runId: number,
  filter: RejectsFilter,
  { raw = false } = {},
): AsyncGenerator<string> {
  yield `${REJECTS_CSV_COLUMNS.join(',')}\r\n`;
  const record = sql<string>`concat(${sql.join([csvText('file', raw), sql.ref('line'), csvText('reason', raw), csvText('raw', raw), sql.ref('raw_bytes')], sql`, ',', `)})`;
  let chunk = '';
  for await (const row of inOrder(filtered(db.selectFrom('etl.rejects').select(record.as('record')), runId, filter)).stream(
    REJECTS_BATCH,
  )) {
    chunk += `${row.record}\r\n`;
    if (chunk.length >= CHUNK_CHARS) {
      yield chunk;
      chunk = '';
    }
  }
  if (chunk) yield chunk;
}

function filtered<O>(query: SelectQueryBuilder<Database, 'etl.rejects', O>, runId: number, { file, reason }: RejectsFilter) {
  let q = query.where('run_id', '=', runId);
  if (file !== undefined) q = q.where('file', '=', file);
  if (reason !== undefined) q = q.where(reasonKind, '=', reason);
  return q;
}

/** Causes first: the order of the unique index rejects_in_order (sql/000014-warnings.sql), so pages are read from it. */
function inOrder<O>(query: SelectQueryBuilder<Database, 'etl.rejects', O>) {
  return query
    .orderBy(sql`etl.reject_file_order(file)`)
    .orderBy('file')
    .orderBy('line');
}

function rejectsQuery(db: Kysely<Database>, runId: number, { limit, offset, ...filter }: RejectsPage) {
  return inOrder(
    filtered(
      db.selectFrom('etl.rejects').select(['file', 'line', 'reason', 'raw', 'raw_bytes', 'cause_file', 'cause_line']),
      runId,
      filter,
    ),
  )
    .limit(limit)
    .offset(offset);
}

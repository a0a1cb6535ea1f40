import type { z } from '@hono/zod-openapi';
import { sql, type Kysely } from 'kysely';
import type { Run } from '../http/schemas.js';
import type { Database } from '../db/schema.js';

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
 * One page of a run's rejects: causes before consequences (users.csv, compounds.csv, then
 * user_experiments.csv, whose knock-on rejects point back at them), each file in line order.
 */
export async function listRejects(db: Kysely<Database>, runId: number, page: RejectsPage) {
  return rejectsQuery(db, runId, page).execute();
}

export interface RejectsPage {
  limit: number;
  offset: number;
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

function rejectsQuery(db: Kysely<Database>, runId: number, { limit, offset }: RejectsPage) {
  return (
    db
      .selectFrom('etl.rejects')
      .select(['file', 'line', 'reason', 'raw', 'raw_bytes', 'cause_file', 'cause_line'])
      .where('run_id', '=', runId)
      // The order of the unique index rejects_in_order (sql/000014-warnings.sql): pages are read from it.
      .orderBy(sql`etl.reject_file_order(file)`)
      .orderBy('file')
      .orderBy('line')
      .limit(limit)
      .offset(offset)
  );
}

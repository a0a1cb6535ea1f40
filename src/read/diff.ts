// Two runs compared: GET /runs/:id/diff, over etl.run_diff and etl.run_diff_summary (sql/000013).
import type { z } from '@hono/zod-openapi';
import { sql, type Kysely, type RawBuilder } from 'kysely';
import type { Database } from '../db/schema.js';
import type { RunDiffSummary } from '../http/schemas.js';
import { csvText } from './csv.js';
import { endSnapshot, lockPublished, type FeaturesPage } from './features.js';

export type DiffSummary = z.infer<typeof RunDiffSummary>;

/** The runs cannot be compared: one is unknown, or its features are no longer kept. The message says which. */
export class DiffUnavailableError extends Error {}

export interface DiffRequest extends FeaturesPage {
  runId: number;
  /** The run to compare with; by default the last run that succeeded before `runId`. */
  against?: number;
}

/** The runs compared: `against`, or the last run that succeeded before `runId`; both must have kept features. */
async function comparedRuns(trx: Kysely<Database>, { runId, against }: DiffRequest): Promise<number> {
  const other =
    against ??
    (
      await sql<{ run_id: number | null }>`
        SELECT max(run_id) AS run_id FROM etl.runs WHERE status = 'succeeded' AND run_id < ${runId}`.execute(trx)
    ).rows[0]?.run_id;
  if (other == null) throw new DiffUnavailableError(`run ${runId} has no earlier successful run to compare with: give ?against=`);
  const rows = await trx
    .selectFrom('etl.runs as r')
    .select((eb) => [
      'r.run_id',
      'r.status',
      eb.exists(eb.selectFrom('etl.runs_with_features as k').whereRef('k.run_id', '=', 'r.run_id')).as('kept'),
    ])
    .where('r.run_id', 'in', [runId, other])
    .execute();
  for (const id of [runId, other]) {
    const run = rows.find((r) => r.run_id === id);
    if (!run) throw new DiffUnavailableError(`no run ${id}`);
    if (!run.kept) {
      throw new DiffUnavailableError(
        run.status === 'succeeded'
          ? `the features of run ${id} are no longer kept (KEEP_RUNS keeps those of the newest successful runs)`
          : `run ${id} has no features to compare: it ${run.status === 'running' ? 'is still running' : 'failed'}`,
      );
    }
  }
  return other;
}

/** The counts columns of etl.run_diff_counted and etl.run_diff_summary. */
const COUNTS = ['added', 'removed', 'changed', 'total_experiments_changed', 'average_run_time_changed', 'top_compound_changed'] as const;
type Counts = Record<(typeof COUNTS)[number], number>;

/** DiffSummary from the counts and each run's users and average. */
async function summaryOf(trx: Kysely<Database>, runId: number, against: number, counts: Counts): Promise<DiffSummary> {
  const runs = await trx
    .selectFrom('etl.runs')
    .select(['run_id', 'users', 'average_experiments_per_user'])
    .where('run_id', 'in', [runId, against])
    .execute();
  const [after, before] = [runId, against].map((id) => runs.find((r) => r.run_id === id));
  return {
    run_id: runId,
    against,
    users: { before: before?.users ?? 0, after: after?.users ?? 0, added: counts.added, removed: counts.removed, changed: counts.changed },
    features_changed: {
      total_experiments: counts.total_experiments_changed,
      average_run_time: counts.average_run_time_changed,
      top_compound: counts.top_compound_changed,
    },
    average_experiments_per_user: {
      before: before?.average_experiments_per_user ?? null,
      after: after?.average_experiments_per_user ?? null,
    },
  };
}

/** The fields of a user in each run: DiffFeatures. */
const SIDE_FIELDS = [
  'total_experiments',
  'average_run_time',
  'top_compound_id',
  'top_compound_name',
  'top_compound_ids',
  'top_compound_experiments',
];

/**
 * One side of a change as the JSON of DiffFeatures, or null where the user is not in that run.
 * row_to_json, like the stored JSON of GET /data (json_build_object spaces its colons).
 */
const sideJson = (side: 'before' | 'after', absent: 'added' | 'removed') =>
  sql`CASE WHEN d.change = ${sql.lit(absent)} THEN NULL ELSE (SELECT row_to_json(s) FROM (SELECT ${sql.join(
    SIDE_FIELDS.map((f) => sql`${sql.ref(`d.${f}_${side}`)} AS ${sql.ref(f)}`),
  )}) s) END`;

/** Changed users per round trip of the cursor: bounds the memory a response holds. */
const BATCH = 1000;

interface DiffRendering {
  head(summary: DiffSummary): string;
  /** One changed user (a row `d` of etl.run_diff) as text, rendered by PostgreSQL. */
  row: RawBuilder<string>;
  between: string;
  tail(count: number, last: number): string;
}

/**
 * The diff as text chunks: `head` (told the numbers), then the changed users by user_id, then
 * `tail`, all in one REPEATABLE READ snapshot, the features partitions locked first (lockPublished)
 * so that retiring a run cannot take them away meanwhile. One execution of etl.run_diff_counted
 * through a cursor, BATCH rows a fetch, gives both the users and the counts: keyset pages of LIMIT
 * n, as GET /data reads, would each merge both runs again (a page's changed users can be anywhere).
 *
 * Merge joins only (SET LOCAL): two runs' features in user_id order (their unique indexes) are
 * merged without memory, where the planner's hash joins of two 1M-user partitions spilled past
 * work_mem and took longer (docs/day-two.md, "Compare runs").
 */
async function* renderDiff(db: Kysely<Database>, request: DiffRequest, rendering: DiffRendering): AsyncGenerator<string> {
  const trx = await db.startTransaction().setIsolationLevel('repeatable read').setAccessMode('read only').execute();
  try {
    await lockPublished(trx);
    for (const setting of ['jit', 'enable_hashjoin', 'enable_nestloop']) await sql`SELECT set_config(${setting}, 'off', true)`.execute(trx);
    const against = await comparedRuns(trx, request);
    const after = request.after ?? 0;
    await sql`DECLARE diff NO SCROLL CURSOR FOR
      SELECT d.user_id, ${sql.join(COUNTS.map((c) => sql.ref(`d.${c}`)))}, ${rendering.row} AS text
      FROM etl.run_diff_counted(${request.runId}::bigint, ${against}::bigint) d
      WHERE d.user_id > ${after} ORDER BY d.user_id
      ${request.limit === undefined ? sql`` : sql`LIMIT ${request.limit}`}`.execute(trx);
    const fetch = async () =>
      (await sql<Counts & { user_id: number; text: string }>`FETCH ${sql.raw(String(BATCH))} FROM diff`.execute(trx)).rows;
    let rows = await fetch();
    // No changed user after `after`: the counts are read on their own.
    const counts =
      rows[0] ??
      (await sql<Counts>`SELECT * FROM etl.run_diff_summary(${request.runId}::bigint, ${against}::bigint)`.execute(trx)).rows[0]!;
    yield rendering.head(await summaryOf(trx, request.runId, against, counts));
    let count = 0;
    let last = after;
    while (rows.length > 0) {
      yield (count === 0 ? '' : rendering.between) + rows.map((r) => r.text).join(rendering.between);
      count += rows.length;
      last = rows.at(-1)!.user_id;
      rows = await fetch();
    }
    const tail = rendering.tail(count, last);
    if (tail) yield tail;
    await trx.commit().execute();
  } finally {
    await endSnapshot(trx);
  }
}

/**
 * `GET /runs/:id/diff` as JSON text chunks: RunDiff, its `changes` rendered by PostgreSQL. Throws
 * DiffUnavailableError (at the first chunk) when the runs cannot be compared.
 */
export function diffJson(db: Kysely<Database>, request: DiffRequest): AsyncGenerator<string> {
  return renderDiff(db, request, {
    head: (s) => `${JSON.stringify(s).slice(0, -1)},"changes":[`,
    row: sql<string>`(SELECT row_to_json(u)::text FROM (SELECT d.user_id, d.change, ${sideJson('before', 'added')} AS before,
                                                               ${sideJson('after', 'removed')} AS after) u)`,
    between: ',',
    tail: (count, last) => (request.limit === undefined ? ']}' : `],"next_after":${count === request.limit ? last : null}}`),
  });
}

/** The CSV columns of a diff: the columns of etl.run_diff. */
export const DIFF_CSV_COLUMNS = ['user_id', 'change', ...SIDE_FIELDS.flatMap((f) => [`${f}_before`, `${f}_after`])];

/**
 * `GET /runs/:id/diff.csv`: one record per changed user (the columns of etl.run_diff), the compound
 * names spreadsheet-safe unless `raw`, as GET /data.csv's text is. `onSummary` is told the numbers
 * (the API sends them as headers).
 */
export function diffCsv(
  db: Kysely<Database>,
  request: DiffRequest,
  { raw = false, onSummary = () => {} }: { raw?: boolean; onSummary?: (summary: DiffSummary) => void } = {},
): AsyncGenerator<string> {
  const fields = DIFF_CSV_COLUMNS.map((column) =>
    column.startsWith('top_compound_name_')
      ? csvText(`d.${column}`, raw)
      : column.startsWith('top_compound_ids_')
        ? sql`array_to_string(${sql.ref(`d.${column}`)}, ';')`
        : sql.ref(`d.${column}`),
  );
  return renderDiff(db, request, {
    head: (s) => {
      onSummary(s);
      return `${DIFF_CSV_COLUMNS.join(',')}\r\n`;
    },
    row: sql<string>`concat(${sql.join(fields, sql`, ',', `)}, ${'\r\n'}::text)`,
    between: '',
    tail: () => '',
  });
}

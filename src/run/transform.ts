import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { CompiledQuery, sql, type Kysely, type Transaction } from 'kysely';
import type { Database } from '../db/schema.js';
import { TRANSFORM_DIR } from '../db/sql-paths.js';
import { TooManyRejectsError } from '../support/errors.js';
import { SOURCES } from '../load/inputs.js';
import { type FileTotals, recordTotals } from './run-records.js';

/**
 * One statement of `sql/transform/`. The contract with the SQL (sql/transform/README.md): each
 * file is one statement, run in file-name order inside the run's transaction; `$1` is the run id,
 * bound when the statement mentions it (utility statements such as ANALYZE cannot take
 * parameters). Steps leave the accepted rows in work.users / work.compounds / work.experiments,
 * the features in work.user_features and every rejected row in etl.rejects; they never write
 * etl.runs or etl.run_files (the runner records progress there from other connections).
 */
export interface Step {
  name: string;
  text: string;
  usesRunId: boolean;
}

const cache = new Map<string, Promise<Step[]>>();

/** The transform scripts of `dir`, in file-name order: staging -> work (core + rejects) -> features. */
export function transformSteps(dir = TRANSFORM_DIR): Promise<Step[]> {
  let steps = cache.get(dir);
  if (!steps) {
    steps = readdir(dir).then((files) =>
      Promise.all(
        files
          .filter((f) => f.endsWith('.sql'))
          .sort()
          .map(async (f) => parseStep(f, await readFile(path.join(dir, f), 'utf8'))),
      ),
    );
    cache.set(dir, steps);
  }
  return steps;
}

function parseStep(file: string, text: string): Step {
  if (/\$([2-9]|\d\d)/.test(text)) throw new Error(`sql/transform/${file}: steps take one parameter, $1 (the run id)`);
  return { name: file.replace(/^\d+-|\.sql$/g, ''), text, usesRunId: /\$1\b/.test(text) };
}

export interface TransformOptions {
  /** The rows each file's parser read, to judge the share of rejects. */
  rowsRead: Record<string, number>;
  maxRejectRatio: number;
  signal?: AbortSignal;
  /** Called before each step; it may write progress from another connection. */
  onStep: (name: string) => Promise<void>;
  /** Called after each step with its duration. */
  onStepDone: (name: string, ms: number) => void;
}

/**
 * Runs the transform and publishes the run in one transaction: readers see the previous run until
 * it commits, and a failure leaves them exactly as they were. When a file has too many rejects, its
 * rejects and totals are committed for inspection but nothing is published (TooManyRejectsError).
 */
export async function transformAndPublish(db: Kysely<Database>, runId: number, steps: Step[], options: TransformOptions): Promise<void> {
  const tooManyRejects = await db.transaction().execute(async (trx) => {
    await tuneTransaction(trx);
    for (const step of steps) {
      options.signal?.throwIfAborted();
      await options.onStep(step.name);
      const started = performance.now();
      await trx.executeQuery(CompiledQuery.raw(step.text, step.usesRunId ? [runId] : []));
      options.onStepDone(step.name, performance.now() - started);
    }
    options.signal?.throwIfAborted();
    // From here on this transaction writes etl.runs: no more progress from other connections.
    const totals = await countTotals(trx, runId);
    const bad = totals.filter((t) => {
      const read = options.rowsRead[t.file] ?? 0;
      return read > 0 && t.rows_rejected / read > options.maxRejectRatio;
    });
    await recordTotals(trx, runId, totals, bad.length === 0);
    if (bad.length > 0) {
      return bad
        .map((t) => `${t.file}: ${t.rows_rejected} of ${options.rowsRead[t.file]} rows were rejected, more than MAX_REJECT_RATIO=${options.maxRejectRatio} allows`)
        .join('; ');
    }
    await sql`SELECT etl.publish(${runId}::bigint)`.execute(trx);
    return null;
  });
  if (tooManyRejects) throw new TooManyRejectsError(`${tooManyRejects}; see GET /runs/${runId}/rejects`);
}

/**
 * Session settings for the transform's big joins and sorts, set with SET LOCAL so nothing
 * server-wide changes.
 */
const TRANSFORM_SETTINGS: Readonly<Record<string, string>> = {
  work_mem: '1GB',
  // Compiling costs more than it saves on these single-pass statements.
  jit: 'off',
  // One worker per half of the users in 070-user-features-by-half (the leader writes their rows).
  // The server may grant fewer: the results are the same, only slower.
  max_parallel_workers_per_gather: '2',
  // No partial (block-by-block) scans: a half of the users must run whole in one process, or its
  // sums would depend on how blocks were shared out; and a Gather Merge of partial sorts inside a
  // half would keep the planner from running the halves side by side.
  min_parallel_table_scan_size: '4TB',
  min_parallel_index_scan_size: '4TB',
};

/** Applies TRANSFORM_SETTINGS to `trx` (the run's transaction; the tests explain a step under them). */
export async function tuneTransaction(trx: Transaction<Database>): Promise<void> {
  for (const [name, value] of Object.entries(TRANSFORM_SETTINGS)) {
    await sql`SELECT set_config(${name}, ${value}, true)`.execute(trx);
  }
}

/** Rows each file contributed to the run (its work table) and rows it lost to the rejects. */
async function countTotals(trx: Transaction<Database>, runId: number): Promise<FileTotals[]> {
  const totals: FileTotals[] = [];
  for (const source of SOURCES) {
    const loaded = await sql<{ n: number }>`SELECT count(*) AS n FROM ${sql.table(`work.${source.table}`)}`.execute(trx);
    const rejected = await trx
      .selectFrom('etl.rejects')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .where('run_id', '=', runId)
      .where('file', '=', source.file)
      .executeTakeFirstOrThrow();
    totals.push({ file: source.file, rows_loaded: loaded.rows[0]!.n, rows_rejected: rejected.n });
  }
  return totals;
}

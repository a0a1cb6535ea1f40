import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { CompiledQuery, sql, type Kysely, type Transaction } from 'kysely';
import type { Database } from '../db/schema.js';
import { TRANSFORM_DIR } from '../db/sql-paths.js';
import { TooManyRejectsError } from '../support/errors.js';
import { SOURCES } from '../load/inputs.js';
import { type FileTotals, markSucceeded, recordTotals } from './run-records.js';

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

/**
 * The transform scripts of `dir`, in file-name order: staging -> work (core + rejects) -> features.
 * On Citus (`citus`), a step `NNN-name.citus.sql` stands in for its twin `NNN-name.sql`: the same
 * step (name, place, outputs) written so that it runs on the workers (sql/transform/README.md).
 */
export function transformSteps(dir = TRANSFORM_DIR, citus = false): Promise<Step[]> {
  const key = `${citus ? 'citus' : 'postgresql'}:${dir}`;
  let steps = cache.get(key);
  if (!steps) {
    steps = readdir(dir).then((files) => {
      const sql = files.filter((f) => f.endsWith('.sql'));
      const twins = new Set(sql.filter((f) => f.endsWith(CITUS_SUFFIX)));
      for (const twin of twins) {
        if (!sql.includes(twin.slice(0, -CITUS_SUFFIX.length) + '.sql'))
          throw new Error(`sql/transform/${twin} has no twin ${twin.slice(0, -CITUS_SUFFIX.length)}.sql`);
      }
      return Promise.all(
        sql
          .filter((f) => !twins.has(f))
          .sort()
          .map(async (f) => {
            const twin = f.slice(0, -'.sql'.length) + CITUS_SUFFIX;
            const file = citus && twins.has(twin) ? twin : f;
            return parseStep(f, await readFile(path.join(dir, file), 'utf8'));
          }),
      );
    });
    cache.set(key, steps);
  }
  return steps;
}

const CITUS_SUFFIX = '.citus.sql';

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
  /** The database is a Citus coordinator: publish in two commits (see below). */
  citus?: boolean;
}

/**
 * Runs the transform and publishes the run in one transaction: readers see the previous run until
 * it commits, and a failure leaves them exactly as they were. When a file has too many rejects, its
 * rejects and totals are committed for inspection but nothing is published (TooManyRejectsError).
 *
 * On Citus, a commit is visible on the coordinator (where etl.published lives) a moment before it
 * is on the workers (their half of the two-phase commit follows), so the run's partitions are
 * attached in that transaction and etl.published is moved by a second one, once the first has
 * committed everywhere. A run that dies between the two is recorded as failed by the next start,
 * and its partitions, never published, are retired like any old run's.
 */
export async function transformAndPublish(db: Kysely<Database>, runId: number, steps: Step[], options: TransformOptions): Promise<void> {
  const tooManyRejects = await db.transaction().execute(async (trx) => {
    await tuneTransaction(trx, options.citus);
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
    await recordTotals(trx, runId, totals, bad.length === 0 && !options.citus);
    if (bad.length > 0) {
      return bad
        .map(
          (t) =>
            `${t.file}: ${t.rows_rejected} of ${options.rowsRead[t.file]} rows were rejected, more than MAX_REJECT_RATIO=${options.maxRejectRatio} allows`,
        )
        .join('; ');
    }
    if (options.citus) await sql`SELECT etl.attach_run(${runId}::bigint)`.execute(trx);
    else await sql`SELECT etl.publish(${runId}::bigint)`.execute(trx);
    return null;
  });
  if (tooManyRejects) throw new TooManyRejectsError(`${tooManyRejects}; see GET /runs/${runId}/rejects`);
  if (options.citus) {
    options.signal?.throwIfAborted();
    await db.transaction().execute(async (trx) => {
      await markSucceeded(trx, runId);
      await sql`INSERT INTO etl.published (run_id) VALUES (${runId}::bigint) ON CONFLICT (singleton) DO UPDATE SET run_id = excluded.run_id`.execute(
        trx,
      );
    });
  }
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

/**
 * On Citus, added to TRANSFORM_SETTINGS. The run's transaction changes the shards of one colocation
 * group many times (the DDL of etl.start_work, the text rows added by 020 and 060, the features);
 * over several connections per worker, Citus then refuses a statement whose task would touch
 * placements changed over different connections ("cannot perform query with placements that were
 * modified over multiple connections", seen at 32 shards). One connection per worker avoids that:
 * the workers still run in parallel, each one task after another.
 */
const CITUS_TRANSFORM_SETTINGS: Readonly<Record<string, string>> = {
  'citus.multi_shard_modify_mode': 'sequential',
};

/** Applies TRANSFORM_SETTINGS to `trx` (the run's transaction; the tests explain a step under them). */
export async function tuneTransaction(trx: Transaction<Database>, citus = false): Promise<void> {
  for (const [name, value] of Object.entries({ ...TRANSFORM_SETTINGS, ...(citus ? CITUS_TRANSFORM_SETTINGS : {}) })) {
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

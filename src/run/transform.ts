import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { CompiledQuery, sql, type Kysely, type Transaction } from 'kysely';
import type { Database, RunWarning } from '../db/schema.js';
import { TRANSFORM_DIR } from '../db/sql-paths.js';
import { PublishGuardError, TooManyRejectsError } from '../support/errors.js';
import { EXPERIMENTS, SOURCES, USERS } from '../load/inputs.js';
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
  /** A file losing more than this share of its rows (but not over maxRejectRatio) gives the run a warning. */
  warnRejectRatio: number;
  /**
   * The publish guard: a run whose users or experiments are fewer than the published run's by more
   * than this share fails (PublishGuardError) instead of publishing, unless `force`.
   */
  maxDropRatio: number;
  force?: boolean;
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
 * rejects and totals are committed for inspection but nothing is published (TooManyRejectsError);
 * so are those of a run the publish guard refuses (PublishGuardError).
 *
 * On Citus, a commit is visible on the coordinator (where etl.published lives) a moment before it
 * is on the workers (their half of the two-phase commit follows), so the run's partitions are
 * attached in that transaction and etl.published is moved by a second one, once the first has
 * committed everywhere. A run that dies between the two is recorded as failed by the next start,
 * and its partitions, never published, are retired like any old run's.
 */
export async function transformAndPublish(db: Kysely<Database>, runId: number, steps: Step[], options: TransformOptions): Promise<void> {
  const refused = await db.transaction().execute(async (trx) => {
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
    const refusal =
      bad.length > 0
        ? new TooManyRejectsError(
            bad
              .map(
                (t) =>
                  `${t.file}: ${t.rows_rejected} of ${options.rowsRead[t.file]} rows were rejected, more than MAX_REJECT_RATIO=${options.maxRejectRatio} allows`,
              )
              .join('; ') + `; see GET /runs/${runId}/rejects`,
          )
        : options.force
          ? null
          : await guardPublish(trx, runId, totals, options.maxDropRatio);
    const warnings = refusal ? [] : await findWarnings(trx, runId, totals, options);
    // A refused run's totals (and rejects) are committed for inspection; nothing is published.
    await recordTotals(trx, runId, totals, warnings, refusal === null && !options.citus);
    if (refusal) return refusal;
    if (options.citus) await sql`SELECT etl.attach_run(${runId}::bigint)`.execute(trx);
    else await sql`SELECT etl.publish(${runId}::bigint)`.execute(trx);
    return null;
  });
  if (refused) throw refused;
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

/**
 * The publish guard: a run that would publish far fewer users or experiments than the published
 * run (a truncated upstream file, say) is refused, naming both counts and how to publish it anyway.
 */
async function guardPublish(trx: Transaction<Database>, runId: number, totals: FileTotals[], maxDropRatio: number) {
  const published = await trx
    .selectFrom('etl.published as p')
    .innerJoin('etl.runs as r', 'r.run_id', 'p.run_id')
    .select(['r.run_id', 'r.users', 'r.experiments'])
    .executeTakeFirst();
  if (!published) return null;
  const counts = [
    { noun: 'user', now: published.users ?? 0, next: totals.find((t) => t.file === USERS.file)!.rows_loaded },
    { noun: 'experiment', now: published.experiments ?? 0, next: totals.find((t) => t.file === EXPERIMENTS.file)!.rows_loaded },
  ];
  const drops = counts.filter(({ now, next }) => now > 0 && (now - next) / now > maxDropRatio);
  if (drops.length === 0) return null;
  const some = (n: number, noun: string) => `${n} ${noun}${n === 1 ? '' : 's'}`;
  return new PublishGuardError(
    `run ${runId} would publish ${counts.map((c) => some(c.next, c.noun)).join(' and ')} where the published run ${published.run_id} has ` +
      `${counts.map((c) => some(c.now, c.noun)).join(' and ')}: ${drops.map((d) => `${percent((d.now - d.next) / d.now)} fewer ${d.noun}s`).join(' and ')}, ` +
      `more than MAX_DROP_RATIO=${maxDropRatio} allows; nothing was published. ` +
      'If the files are right, publish them anyway: POST /data?force=1 (bin/trigger.sh --force, npm run etl -- --force)',
  );
}

const percent = (share: number) => `${Math.round(share * 1000) / 10}%`;

/** Causes listed by a knock-on warning. */
const CAUSES_SHOWN = 3;

/**
 * What a person should look at although the run can be published: a file that lost more than
 * warnRejectRatio of its rows, and rows rejected only because a row they name was (knock-on).
 */
async function findWarnings(
  trx: Transaction<Database>,
  runId: number,
  totals: FileTotals[],
  options: Pick<TransformOptions, 'rowsRead' | 'warnRejectRatio'>,
): Promise<RunWarning[]> {
  const warnings: RunWarning[] = [];
  for (const t of totals) {
    const read = options.rowsRead[t.file] ?? 0;
    if (read > 0 && t.rows_rejected > 0 && t.rows_rejected / read > options.warnRejectRatio) {
      warnings.push({
        kind: 'rejects',
        file: t.file,
        rows: t.rows_rejected,
        message: `${t.file}: ${t.rows_rejected} of ${read} rows (${percent(t.rows_rejected / read)}) were rejected, more than WARN_REJECT_RATIO=${options.warnRejectRatio}; see GET /runs/${runId}/rejects`,
      });
    }
  }
  // Only user_experiments.csv has knock-on rejects today; grouped by file all the same.
  const knockOn = await sql<{ file: string; rows: string; causes: string; shown: string[] }>`
    SELECT file, count(*) AS rows, count(DISTINCT (cause_file, cause_line)) AS causes,
           (SELECT array_agg(c.cause_file || ' line ' || c.cause_line ORDER BY etl.reject_file_order(c.cause_file), c.cause_line)
            FROM (SELECT cause_file, cause_line FROM etl.rejects x
                  WHERE x.run_id = ${runId}::bigint AND x.file = r.file AND x.cause_line IS NOT NULL
                  GROUP BY cause_file, cause_line
                  ORDER BY etl.reject_file_order(cause_file), cause_line LIMIT ${CAUSES_SHOWN}) c) AS shown
    FROM etl.rejects r
    WHERE run_id = ${runId}::bigint AND cause_line IS NOT NULL
    GROUP BY file`.execute(trx);
  for (const k of knockOn.rows) {
    const rows = Number(k.rows);
    const causes = Number(k.causes);
    const shown = k.shown.join(', ') + (causes > CAUSES_SHOWN ? `, … ${causes} rows in all` : '');
    warnings.push({
      kind: 'knock_on_rejects',
      file: k.file,
      rows,
      message: `${k.file}: ${rows} row${rows === 1 ? ' was' : 's were'} rejected because the user or compound ${rows === 1 ? 'it names' : 'they name'} was rejected (${shown}); see GET /runs/${runId}/rejects`,
    });
  }
  return warnings;
}

// After a run is published: the partitions of runs no longer published are detached and dropped,
// but for the features of the newest KEEP_RUNS successful runs (kept to compare runs).
import { CompiledQuery, sql, type Kysely } from 'kysely';
import type { Database } from '../db/schema.js';

/**
 * How long retiring old partitions may wait for readers of the old run before the answer goes out.
 * On Citus the detach is not concurrent: while it waits, new readers of the parent queue behind it,
 * so it gives up sooner.
 */
const RETIRE_WAIT = '5s';
const CITUS_RETIRE_WAIT = '1s';

/**
 * Detaches the partitions of runs no longer published (but the features of `etl.kept_runs(keepRuns)`,
 * sql/000013) (CONCURRENTLY: it waits for readers instead
 * of blocking them), then drops them. `etl.retire_statements()` lists the detaches and the drops
 * of tables already detached; a drop appears only once its detach has finished, so the statements
 * are listed and run twice. A reader still streaming the old run holds a detach up: after
 * RETIRE_WAIT it is left pending (new runs attach regardless) and the next run finishes it with
 * FINALIZE (first: a parent takes no new concurrent detach while one is pending), so a slow reader
 * delays a run's answer by at most RETIRE_WAIT. Failing here loses nothing. On Citus (twin of
 * etl.retire_statements in sql/citus/distribute.sql) the detaches are plain ones, and a run that
 * gives up leaves them to the next run.
 */
export async function retireOldRuns(db: Kysely<Database>, keepRuns: number, citus = false): Promise<void> {
  await db.connection().execute(async (conn) => {
    await sql`SELECT set_config('lock_timeout', ${citus ? CITUS_RETIRE_WAIT : RETIRE_WAIT}, false)`.execute(conn);
    try {
      for (let pass = 0; pass < 2; pass++) {
        const { rows } = await conn.executeQuery<{ statement: string }>(
          CompiledQuery.raw('SELECT etl.retire_statements($1::int) AS statement', [keepRuns]),
        );
        // A parent takes no new concurrent detach while one is pending: FINALIZE those first.
        const order = (statement: string) => (/ FINALIZE$/.test(statement) ? 0 : / CONCURRENTLY$/.test(statement) ? 1 : 2);
        // The first failure ends the attempt: the other detaches would wait on the same readers.
        for (const { statement } of rows.sort((a, b) => order(a.statement) - order(b.statement))) {
          await conn.executeQuery(CompiledQuery.raw(statement));
        }
      }
    } finally {
      await sql`RESET lock_timeout`.execute(conn);
    }
  });
}

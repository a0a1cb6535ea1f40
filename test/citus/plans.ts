import { CompiledQuery } from 'kysely';
import { transformSteps, tuneTransaction } from '../../src/run/transform.js';
import type { DbHandle } from '../../src/db/connect.js';

/** Statements EXPLAIN can show (not ANALYZE, not a call of one of the run's functions). */
const explainable = (text: string) => /^\s*(WITH|INSERT|CREATE (UNLOGGED )?TABLE \S+ AS)\b/m.test(text.replace(/^--.*$/gm, ''));

/**
 * The plan of each step of the transform (its Citus twin on Citus), under the run's settings,
 * explained after run `runId` has published, against the tables it read and wrote: its work tables
 * are the run's partitions by then, and the scratch tables and staging are still there (the next
 * run clears them). Step name -> plan.
 */
export async function stepPlans(database: DbHandle, runId: number): Promise<Map<string, string>> {
  const steps = await transformSteps(undefined, database.mode.kind === 'citus');
  const plans = new Map<string, string>();
  for (const step of steps.filter((s) => explainable(s.text))) {
    const text = step.text
      // A literal run id: Citus cannot plan a statement with parameters whose values it lacks.
      .replaceAll('$1', String(runId))
      .replace(/\bwork\.(users|experiments)\b/g, (_, table: string) => `core.${table}_run_${runId}`)
      .replace(/\bwork\.user_features\b/g, `mart.user_features_run_${runId}`)
      // EXPLAIN of CREATE TABLE AS refuses a table that exists: name one that does not.
      .replace(/^(CREATE (?:UNLOGGED )?TABLE \S+)( AS)$/m, '$1_explained$2');
    const { rows } = await database.db.transaction().execute(async (trx) => {
      await tuneTransaction(trx, database.mode.kind === 'citus');
      return trx.executeQuery<{ 'QUERY PLAN': string }>(CompiledQuery.raw(`EXPLAIN ${text}`));
    });
    plans.set(step.name, rows.map((r) => r['QUERY PLAN']).join('\n'));
  }
  return plans;
}

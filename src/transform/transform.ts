import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { CompiledQuery, sql, type Transaction } from 'kysely';
import type { Database } from '../db/schema.js';
import { TRANSFORM_DIR } from '../db/paths.js';

/** One statement of `sql/transform/`, run with the run id as `$1` when it uses it. */
export interface Step {
  name: string;
  text: string;
}

let steps: Promise<Step[]> | undefined;

/** The per-run transform scripts, in file-name order: staging -> work (core + rejects) -> features. */
export function transformSteps(): Promise<Step[]> {
  steps ??= readdir(TRANSFORM_DIR).then((files) =>
    Promise.all(
      files
        .filter((f) => f.endsWith('.sql'))
        .sort()
        .map(async (f) => ({ name: f.replace(/^\d+-|\.sql$/g, ''), text: await readFile(path.join(TRANSFORM_DIR, f), 'utf8') })),
    ),
  );
  return steps;
}

export async function runStep(trx: Transaction<Database>, step: Step, runId: number): Promise<void> {
  await trx.executeQuery(CompiledQuery.raw(step.text, /\$1\b/.test(step.text) ? [runId] : []));
}

/**
 * Session settings for the transform's big joins and sorts, local to its transaction so nothing
 * server-wide changes: more memory per sort/hash, and no JIT (compiling costs more than it saves
 * on these single-pass statements).
 */
export async function tuneTransaction(trx: Transaction<Database>): Promise<void> {
  await sql`SET LOCAL work_mem = '256MB'`.execute(trx);
  await sql`SET LOCAL jit = off`.execute(trx);
}

/** Attaches the run's work tables and points the feature views at it. */
export async function publish(trx: Transaction<Database>, runId: number): Promise<void> {
  await sql`SELECT etl.publish(${runId}::bigint)`.execute(trx);
}

/** Statements that detach and drop partitions of older runs; see sql/000006-publish.sql. */
export async function retireStatements(trx: Pick<Transaction<Database>, 'executeQuery'>): Promise<string[]> {
  const result = await trx.executeQuery<{ statement: string }>(
    CompiledQuery.raw('SELECT etl.retire_statements() AS statement', []),
  );
  return result.rows.map((r) => r.statement);
}


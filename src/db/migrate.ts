import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import type pg from 'pg';
import { StartupError } from '../support/errors.js';
import { SQL_DIR } from './sql-paths.js';

/** Any two numbers work; they only need to differ from each other and from other apps' locks. */
export const MIGRATE_LOCK = 7_310_001;

/**
 * A schema script was changed, removed or added out of order after others were applied: the
 * service cannot start on this database, and its one line says why (a StartupError).
 */
export class MigrationError extends StartupError {
  override name = 'MigrationError';
}

/**
 * Applies the numbered scripts `sql/NNNNNN-*.sql` that this database has not run yet, each in its
 * own transaction, and records each with its checksum. Refuses to start when an applied script was
 * changed or removed: the database would no longer match the code. Safe to run concurrently.
 */
export async function migrate(pool: pg.Pool, dir = SQL_DIR): Promise<string[]> {
  const files = (await readdir(dir)).filter((f) => /^\d{6}-[\w-]+\.sql$/.test(f)).sort();
  const scripts = await Promise.all(
    files.map(async (name) => {
      const text = await readFile(path.join(dir, name), 'utf8');
      return { name, text, checksum: createHash('sha256').update(text).digest('hex') };
    }),
  );
  const client = await pool.connect();
  try {
    await client.query('SELECT pg_advisory_lock($1)', [MIGRATE_LOCK]);
    await client.query(`
      CREATE SCHEMA IF NOT EXISTS etl;
      CREATE TABLE IF NOT EXISTS etl.migrations (
        name       text PRIMARY KEY,
        checksum   text NOT NULL,
        applied_at timestamptz NOT NULL DEFAULT now()
      )`);
    const { rows: applied } = await client.query<{ name: string; checksum: string }>(
      'SELECT name, checksum FROM etl.migrations ORDER BY name',
    );
    const byName = new Map(scripts.map((s) => [s.name, s]));
    for (const row of applied) {
      const script = byName.get(row.name);
      // Most often a rollback: an older checkout (or release) on a database a newer one migrated.
      if (!script) {
        throw new MigrationError(
          `this database was migrated by a newer version of lab-features-etl (it has sql/${row.name}, this version does not): run that version or a later one, or restore the backup made before the upgrade (docs/day-two.md#upgrade-and-rollback)`,
        );
      }
      if (script.checksum !== row.checksum) {
        throw new MigrationError(
          `sql/${row.name} changed after it was applied to this database; add a new numbered script instead of editing it`,
        );
      }
    }
    const last = applied.at(-1)?.name ?? '';
    const pending = scripts.filter((s) => !applied.some((a) => a.name === s.name));
    const early = pending.find((s) => s.name < last);
    if (early) throw new MigrationError(`sql/${early.name} is new but sorts before sql/${last}, which is already applied`);

    for (const script of pending) {
      await client.query('BEGIN');
      try {
        await client.query(script.text);
        await client.query('INSERT INTO etl.migrations (name, checksum) VALUES ($1, $2)', [script.name, script.checksum]);
        await client.query('COMMIT');
      } catch (error) {
        await client.query('ROLLBACK');
        throw new MigrationError(`sql/${script.name} failed: ${(error as Error).message}`);
      }
    }
    return pending.map((s) => s.name);
  } finally {
    await client.query('SELECT pg_advisory_unlock($1)', [MIGRATE_LOCK]).catch(() => {});
    client.release();
  }
}

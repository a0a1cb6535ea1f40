import type pg from 'pg';
import type { Kysely } from 'kysely';
import type { Config } from '../config.js';
import { startEmbeddedPostgres } from './embedded.js';
import { migrate } from './migrate.js';
import { applicationName, createPool, kyselyOn } from './pools.js';
import type { Database } from './schema.js';

/** The service's connection to its database: the pool the runs use, and Kysely on it. */
export interface DbHandle {
  /** Shared by the COPY loaders, the transform and Kysely's typed queries of a run. */
  pool: pg.Pool;
  db: Kysely<Database>;
  /** Connection string, for tools like psql; contains the password. Never log it. */
  url: string;
  /** Cancels the statements this handle's run pool is running (and only those). */
  cancelQueries(): Promise<void>;
  close(): Promise<void>;
}

/**
 * Connects to `DATABASE_URL`, or starts the embedded PostgreSQL when it is unset, then applies the
 * schema scripts in `sql/`. Each of the three is its own module; this only puts them in order.
 */
export async function openDb(config: Pick<Config, 'databaseUrl' | 'embeddedDir' | 'embeddedPort'>): Promise<DbHandle> {
  const embedded = config.databaseUrl ? null : await startEmbeddedPostgres(config.embeddedDir, config.embeddedPort);
  const url = config.databaseUrl ?? embedded!.url;
  const pool = createPool(url, { role: 'runs', max: 10 });
  try {
    await migrate(pool);
  } catch (error) {
    await pool.end();
    await embedded?.stop();
    throw error;
  }
  const db = kyselyOn(pool);
  return {
    pool,
    db,
    url,
    async cancelQueries() {
      await pool.query(
        'SELECT pg_cancel_backend(pid) FROM pg_stat_activity WHERE application_name = $1 AND pid <> pg_backend_pid()',
        [applicationName(pool)],
      );
    },
    async close() {
      await db.destroy(); // ends the pool too
      await embedded?.stop();
    },
  };
}

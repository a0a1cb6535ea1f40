import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { Kysely, PostgresDialect } from 'kysely';
import type { Config } from '../config.js';
import { startEmbeddedPostgres } from './embedded.js';
import { migrate } from './migrate.js';
import type { Tables } from './tables.js';

/** How long any statement of the service may wait for a lock before it fails. */
export const LOCK_TIMEOUT_MS = 30_000;

/** One pg.Pool shared by the COPY loaders, the transform and Kysely's typed queries. */
export interface Database {
  pool: pg.Pool;
  db: Kysely<Tables>;
  /** Connection string, for tools like psql; contains the password. Never log it. */
  url: string;
  /** Cancels the statements this Database's connections are running (and only those). */
  cancelQueries(): Promise<void>;
  close(): Promise<void>;
}

// Ids are limited to 2^53 - 1 by the SQL parsers and counts are far below it, so bigint and numeric
// values are safe as JS numbers; JSON answers then carry numbers, not strings.
const types = {
  getTypeParser(oid: number, format?: 'text' | 'binary') {
    if (oid === pg.types.builtins.INT8 || oid === pg.types.builtins.NUMERIC) return Number;
    if (oid === 1016 /* int8[] */) return (text: string) => (text === '{}' ? [] : text.slice(1, -1).split(',').map(Number));
    return pg.types.getTypeParser(oid, format);
  },
} as pg.CustomTypesConfig;

/**
 * Connects to `DATABASE_URL`, or starts the embedded PostgreSQL when it is unset, then applies the
 * schema scripts in `sql/`.
 */
export async function openDatabase(config: Pick<Config, 'databaseUrl' | 'embeddedDir' | 'embeddedPort'>): Promise<Database> {
  const embedded = config.databaseUrl ? null : await startEmbeddedPostgres(config.embeddedDir, config.embeddedPort);
  const url = config.databaseUrl ?? embedded!.url;
  const application_name = `lab-features-etl:${randomUUID().slice(0, 8)}`;
  const pool = new pg.Pool({
    connectionString: url,
    max: 10,
    types,
    connectionTimeoutMillis: 10_000,
    // Unique per pool, so cancelQueries() never touches another process's (or pool's) work.
    application_name,
    // No statement of the service waits on a lock forever: a mistake fails with a clear message.
    options: `-c lock_timeout=${LOCK_TIMEOUT_MS}`,
  });
  // An idle client dying (database restart) must not crash the process; the pool replaces it.
  pool.on('error', () => {});
  // Same for a client that is checked out but idle (the run lock's connection): the next query on
  // it fails, and that failure is handled where the query is made.
  pool.on('connect', (client) => client.on('error', () => {}));
  try {
    await migrate(pool);
  } catch (error) {
    await pool.end();
    await embedded?.stop();
    throw error;
  }
  const db = new Kysely<Tables>({ dialect: new PostgresDialect({ pool }) });
  return {
    pool,
    db,
    url,
    async cancelQueries() {
      await pool.query(
        'SELECT pg_cancel_backend(pid) FROM pg_stat_activity WHERE application_name = $1 AND pid <> pg_backend_pid()',
        [application_name],
      );
    },
    async close() {
      await db.destroy(); // ends the pool too
      await embedded?.stop();
    },
  };
}

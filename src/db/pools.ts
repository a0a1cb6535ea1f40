import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { Kysely, PostgresDialect } from 'kysely';
import type { Database } from './schema.js';

// Ids are limited to 2^53 - 1 by the SQL parsers and counts are far below it, so bigint and numeric
// values are safe as JS numbers; JSON answers then carry numbers, not strings.
const types = {
  getTypeParser(oid: number, format?: 'text' | 'binary') {
    if (oid === pg.types.builtins.INT8 || oid === pg.types.builtins.NUMERIC) return Number;
    if (oid === 1016 /* int8[] */) return (text: string) => (text === '{}' ? [] : text.slice(1, -1).split(',').map(Number));
    return pg.types.getTypeParser(oid, format);
  },
} as pg.CustomTypesConfig;

/** How long any statement of the service may wait for a lock before it fails. */
export const LOCK_TIMEOUT_MS = 30_000;

export interface PoolOptions {
  /** What the pool is for; part of its `application_name`, so pg_stat_activity shows who is who. */
  role: string;
  max: number;
  /** How long a request waits for a connection before failing ("timeout exceeded when trying to connect"). */
  connectionTimeoutMillis?: number;
  /** Server-side limit on each statement of this pool's connections; unset: none. */
  statementTimeoutMs?: number;
  /** Server-side limit on a transaction left idle; PostgreSQL ends the session after it. Unset: none. */
  idleInTransactionTimeoutMs?: number;
  /** Settings of each session, given when it connects (e.g. src/db/citus.ts sessionSettings). */
  settings?: Record<string, string>;
}

/**
 * A pg.Pool on `url` whose `application_name` is unique to it (so cancelling "this pool's
 * statements" never touches another pool's or process's), with the service's type parsers.
 */
export function createPool(url: string, options: PoolOptions): pg.Pool {
  const pool = new pg.Pool({
    connectionString: url,
    max: options.max,
    types,
    connectionTimeoutMillis: options.connectionTimeoutMillis ?? 10_000,
    application_name: `lab-features-etl:${options.role}:${randomUUID().slice(0, 8)}`,
    // No statement of the service waits on a lock forever: a mistake fails with a clear message.
    lock_timeout: LOCK_TIMEOUT_MS,
    ...(options.statementTimeoutMs ? { statement_timeout: options.statementTimeoutMs } : {}),
    ...(options.idleInTransactionTimeoutMs ? { idle_in_transaction_session_timeout: options.idleInTransactionTimeoutMs } : {}),
    ...(options.settings && Object.keys(options.settings).length > 0
      ? {
          options: Object.entries(options.settings)
            // A space would split the value: PostgreSQL's own escape for it is a backslash.
            .map(([name, value]) => `-c ${name}=${value.replace(/([\\ ])/g, '\\$1')}`)
            .join(' '),
        }
      : {}),
  });
  // An idle client dying (database restart) must not crash the process; the pool replaces it.
  pool.on('error', () => {});
  // Same for a client that is checked out but idle (the run lock's connection): the next query on
  // it fails, and that failure is handled where the query is made.
  pool.on('connect', (client) => client.on('error', () => {}));
  return pool;
}

/** The pool's `application_name`, as pg_stat_activity shows it. */
export const applicationName = (pool: pg.Pool): string => (pool.options as { application_name: string }).application_name;

/** Kysely over `pool`; `cursor` enables `.stream()` (pg-cursor). Destroying it ends the pool. */
export function kyselyOn(pool: pg.Pool, cursor?: typeof import('pg-cursor')): Kysely<Database> {
  return new Kysely<Database>({ dialect: new PostgresDialect({ pool, ...(cursor ? { cursor } : {}) }) });
}

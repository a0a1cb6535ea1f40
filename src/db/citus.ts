import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { sql, type Kysely } from 'kysely';
import type pg from 'pg';
import { MIGRATE_LOCK } from './migrate.js';
import { SQL_DIR } from './sql-paths.js';
import type { Database } from './schema.js';

/**
 * What the service runs on: a plain PostgreSQL, or a Citus coordinator (the database has the
 * `citus` extension), whose data tables it then distributes over the workers.
 */
export type DatabaseMode = { kind: 'postgresql' } | { kind: 'citus'; workers: number; shards: number };

export const POSTGRESQL: DatabaseMode = { kind: 'postgresql' };

export const isCitus = (mode: DatabaseMode) => mode.kind === 'citus';

/**
 * Settings of every session of the service's pools. On Citus: no connection to a worker is kept
 * from one transaction to the next. A kept connection to a worker that has since restarted fails
 * the first transaction that uses it ("failure on connection marked as essential"), so each pooled
 * session would fail one run or read after every worker restart; a new connection per transaction
 * costs a few milliseconds.
 */
export function sessionSettings(mode: DatabaseMode): Record<string, string> {
  return mode.kind === 'citus' ? { 'citus.max_cached_conns_per_worker': '0' } : {};
}

/** Whether the database has the `citus` extension: the one test of the mode, at start-up and in each stream. */
const HAS_CITUS = `SELECT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'citus') AS citus`;

/** HAS_CITUS on a Kysely connection or transaction (a stream asks inside its own snapshot). */
export async function hasCitus(db: Kysely<Database>): Promise<boolean> {
  const { rows } = await sql<{ citus: boolean }>`${sql.raw(HAS_CITUS)}`.execute(db);
  return rows[0]!.citus;
}

/**
 * After the migrations: when the database has the citus extension (its user creates it, as Citus's
 * documentation says), applies sql/citus/distribute.sql, which distributes the data tables and
 * installs the Citus twins of the run's functions; otherwise changes nothing. Idempotent, run on
 * every start under the migration lock (two services starting together apply it once).
 * `shardCount` (CITUS_SHARD_COUNT) only matters the first time: a distributed table keeps its shards.
 */
export async function applyDatabaseMode(pool: pg.Pool, shardCount?: number): Promise<DatabaseMode> {
  const client = await pool.connect();
  try {
    const { rows } = await client.query<{ citus: boolean }>(HAS_CITUS);
    if (!rows[0]!.citus) return POSTGRESQL;
    const script = await readFile(path.join(SQL_DIR, 'citus', 'distribute.sql'), 'utf8');
    await client.query('SELECT pg_advisory_lock($1)', [MIGRATE_LOCK]);
    try {
      await client.query('BEGIN');
      try {
        if (shardCount !== undefined) await client.query(`SELECT set_config('citus.shard_count', $1, true)`, [String(shardCount)]);
        await client.query(script);
        await client.query('COMMIT');
      } catch (error) {
        await client.query('ROLLBACK').catch(() => {});
        throw new Error(`sql/citus/distribute.sql failed: ${(error as Error).message}`, { cause: error });
      }
    } finally {
      await client.query('SELECT pg_advisory_unlock($1)', [MIGRATE_LOCK]).catch(() => {});
    }
    return await citusMode(client);
  } finally {
    client.release();
  }
}

/** The active workers, and the shards of the user_id colocation group. */
const MODE_QUERY = `
  SELECT (SELECT count(*) FROM pg_dist_node WHERE isactive AND noderole = 'primary' AND groupid <> 0)::int AS workers,
         (SELECT count(*) FROM pg_dist_shard WHERE logicalrelid = 'core.users'::regclass)::int AS shards`;

async function citusMode(client: pg.ClientBase): Promise<DatabaseMode> {
  const { rows } = await client.query<{ workers: number; shards: number }>(MODE_QUERY);
  return { kind: 'citus', workers: rows[0]!.workers, shards: rows[0]!.shards };
}

/** `mode` as it is now (a worker may have been added or removed since the start); throws when the database does not answer. */
export async function currentMode(db: Kysely<Database>, mode: DatabaseMode): Promise<DatabaseMode> {
  if (mode.kind === 'postgresql') {
    await sql`SELECT 1`.execute(db);
    return mode;
  }
  const { rows } = await sql<{ workers: number; shards: number }>`${sql.raw(MODE_QUERY)}`.execute(db);
  return { kind: 'citus', workers: rows[0]!.workers, shards: rows[0]!.shards };
}

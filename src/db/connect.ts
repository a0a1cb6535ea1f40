import type pg from 'pg';
import type { Kysely } from 'kysely';
import Cursor from 'pg-cursor';
import { DEFAULT_READ_LIMITS, type Config, type ReadLimits } from '../support/config.js';
import { StartupError } from '../support/errors.js';
import { applyDatabaseMode, sessionSettings, type DatabaseMode } from './citus.js';
import { startEmbeddedPostgres } from './embedded.js';
import { migrate } from './migrate.js';
import { applicationName, createPool, kyselyOn } from './pools.js';
import type { Database } from './schema.js';

/**
 * The service's connections to its database, in three pools so that no kind of work can take
 * another's connections: runs, the API's short reads, and the API's long streamed answers.
 */
export interface DbHandle {
  /** The runs' pool: COPY loaders, the transform, the run lock and run records. No API reader uses it. */
  pool: pg.Pool;
  db: Kysely<Database>;
  /** The API's connections; see Readers. */
  readers: Readers;
  /** Connection string, for tools like psql; contains the password. Never log it. */
  url: string;
  /** With the embedded PostgreSQL: its cluster's folder and version (the start-up banner names them). */
  embedded?: { cluster: string; version: string };
  /** Plain PostgreSQL, or a Citus coordinator whose data tables are distributed (src/db/citus.ts). */
  mode: DatabaseMode;
  /** Cancels the statements this handle's run pool is running (and only those). */
  cancelQueries(): Promise<void>;
  close(): Promise<void>;
}

/** The API's reads, each kind on a pool of its own, every statement under `statement_timeout`. */
export interface Readers {
  /** Short reads: a user, run records, /health. */
  db: Kysely<Database>;
  /** Streamed answers (GET /data, reject pages): one connection per stream, `.stream()` enabled. */
  streams: Kysely<Database>;
  limits: ReadLimits;
}

/** Connections of the short-read pool: point reads take milliseconds, so a few serve many clients. */
const SHORT_READ_CONNECTIONS = 4;
/** How long a short read waits for a connection before the API answers 503. */
const READ_CONNECT_TIMEOUT_MS = 5_000;

/**
 * Connects to `DATABASE_URL`, or starts the embedded PostgreSQL when it is unset, then applies the
 * schema scripts in `sql/` and, on a Citus coordinator, distributes the data tables. Each of these
 * is its own module; this only puts them in order.
 */
export async function openDb(
  config: Pick<Config, 'databaseUrl' | 'embeddedDir' | 'embeddedPort'> & {
    reads?: ReadLimits;
    /** Use the embedded PostgreSQL another live process runs on embeddedDir instead of refusing (the CLI). */
    shareEmbedded?: boolean;
    /** On a Citus coordinator: shards of the distributed tables when they are first distributed. */
    citusShardCount?: number;
  },
): Promise<DbHandle> {
  const embedded = config.databaseUrl
    ? null
    : await startEmbeddedPostgres(config.embeddedDir, config.embeddedPort, { shareRunning: config.shareEmbedded });
  const url = config.databaseUrl ?? embedded!.url;
  // The schema first, on a connection of its own: the pools' settings depend on what it finds.
  const setup = createPool(url, { role: 'setup', max: 1 });
  let mode: DatabaseMode;
  try {
    await setup.query('SELECT 1').catch((error: Error) => {
      // The database's own words (refused, unknown host, bad password), never the URL: it may hold a
      // password. (A refused connection to a name with two addresses has only a code, no message.)
      const which = config.databaseUrl ? `the database of DATABASE_URL (${hostOf(url)})` : 'the embedded PostgreSQL';
      throw new StartupError(`${which} cannot be used: ${error.message || (error as NodeJS.ErrnoException).code || 'no answer'}`);
    });
    await migrate(setup);
    mode = await applyDatabaseMode(setup, config.citusShardCount);
  } catch (error) {
    await embedded?.stop();
    throw error;
  } finally {
    await setup.end();
  }
  const settings = sessionSettings(mode);
  const pool = createPool(url, { role: 'runs', max: 10, settings });
  const db = kyselyOn(pool);
  const readers = openReaders(url, config.reads ?? DEFAULT_READ_LIMITS, settings);
  return {
    pool,
    db,
    readers,
    url,
    ...(embedded ? { embedded: { cluster: embedded.cluster, version: embedded.version } } : {}),
    mode,
    async cancelQueries() {
      await pool.query('SELECT pg_cancel_backend(pid) FROM pg_stat_activity WHERE application_name = $1 AND pid <> pg_backend_pid()', [
        applicationName(pool),
      ]);
    },
    async close() {
      // Kysely's destroy ends its pool; pg waits for checked-out connections, so streams must be
      // ended first (the server does that on shutdown).
      await Promise.all([readers.db.destroy(), readers.streams.destroy()]);
      await db.destroy();
      await embedded?.stop();
    },
  };
}

function hostOf(url: string): string {
  try {
    return new URL(url).host || 'no host';
  } catch {
    return 'not a URL';
  }
}

function openReaders(url: string, limits: ReadLimits, settings: Record<string, string>): Readers {
  const reads = createPool(url, {
    role: 'reads',
    settings,
    max: SHORT_READ_CONNECTIONS,
    connectionTimeoutMillis: READ_CONNECT_TIMEOUT_MS,
    statementTimeoutMs: limits.statementTimeoutMs,
    idleInTransactionTimeoutMs: limits.statementTimeoutMs,
  });
  // As many connections as streams are allowed, so a stream never waits for one. A stream's
  // transaction is idle while its client reads; PostgreSQL ends it a little after the service's
  // own idle limit, should the service ever fail to.
  const streams = createPool(url, {
    role: 'streams',
    settings,
    max: limits.maxStreams,
    statementTimeoutMs: limits.statementTimeoutMs,
    idleInTransactionTimeoutMs: limits.streamIdleTimeoutMs + 10_000,
  });
  return { db: kyselyOn(reads), streams: kyselyOn(streams, Cursor), limits };
}

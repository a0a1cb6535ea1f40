import os from 'node:os';
import path from 'node:path';

/** Everything the service reads from the environment, parsed once. */
export interface Config {
  /** The address the HTTP server binds: 127.0.0.1 (this machine only) unless HOST says otherwise. */
  host: string;
  port: number;
  /** Where users.csv, user_experiments.csv and compounds.csv are read from. */
  dataDir: string;
  /** An existing PostgreSQL (15+); when unset, an embedded one is started. */
  databaseUrl: string | undefined;
  embeddedDir: string;
  embeddedPort: number;
  /** A file whose share of rejected rows is above this fails the run instead of publishing it. */
  maxRejectRatio: number;
  /** Publish a run whose users or experiments file has no data rows. */
  allowEmpty: boolean;
  /** Rejects are kept for this many of the newest runs. */
  keepRuns: number;
  /** Limits on the API's reads; see ReadLimits. */
  reads: ReadLimits;
  /** The largest multipart body POST /data accepts (bytes); a larger one is answered 413. */
  maxUploadBytes: number;
  /** Where an upload's parts are written while its run needs them (a private directory per upload, removed after). */
  uploadTmpDir: string;
  /** When set, requests that change state need `Authorization: Bearer <apiToken>`. */
  apiToken: string | undefined;
  /** With apiToken set: reads need the token too (except /health). */
  apiTokenReads: boolean;
  /** On a Citus coordinator: shards of the distributed tables when they are first distributed (unset: Citus's citus.shard_count). */
  citusShardCount: number | undefined;
}

/** What bounds the API's reads, so that no reader can hold the service's connections for long. */
export interface ReadLimits {
  /** Streamed answers (GET /data, reject pages) at the same time; more get 503 with Retry-After. */
  maxStreams: number;
  /** A stream whose client has taken nothing for this long is ended and its connection released. */
  streamIdleTimeoutMs: number;
  /** PostgreSQL's statement_timeout on the API's connections (not on a run's). */
  statementTimeoutMs: number;
}

export const DEFAULT_READ_LIMITS: ReadLimits = { maxStreams: 4, streamIdleTimeoutMs: 30_000, statementTimeoutMs: 30_000 };

export const DEFAULT_MAX_UPLOAD_BYTES = 2 * 1024 ** 3;

export function readConfig(env: NodeJS.ProcessEnv = process.env): Config {
  return {
    host: env.HOST || '127.0.0.1',
    port: port(env, 'PORT', 8080),
    dataDir: path.resolve(env.DATA_DIR || 'data'),
    databaseUrl: env.DATABASE_URL || undefined,
    embeddedDir: path.resolve(env.EMBEDDED_PG_DIR || '.pgdata'),
    embeddedPort: port(env, 'EMBEDDED_PG_PORT', 54329),
    maxRejectRatio: ratio(env, 'MAX_REJECT_RATIO', 0.5),
    allowEmpty: env.ALLOW_EMPTY === '1',
    keepRuns: count(env, 'KEEP_RUNS', 20, 1, 1_000_000),
    reads: {
      maxStreams: count(env, 'MAX_STREAMS', DEFAULT_READ_LIMITS.maxStreams, 1, 100),
      streamIdleTimeoutMs: count(env, 'STREAM_IDLE_TIMEOUT_MS', DEFAULT_READ_LIMITS.streamIdleTimeoutMs, 100, 3_600_000),
      statementTimeoutMs: count(env, 'STATEMENT_TIMEOUT_MS', DEFAULT_READ_LIMITS.statementTimeoutMs, 100, 3_600_000),
    },
    maxUploadBytes: count(env, 'MAX_UPLOAD_BYTES', DEFAULT_MAX_UPLOAD_BYTES, 1, Number.MAX_SAFE_INTEGER),
    uploadTmpDir: path.resolve(env.UPLOAD_TMPDIR || os.tmpdir()),
    apiToken: env.API_TOKEN || undefined,
    apiTokenReads: env.API_TOKEN_READS === '1',
    citusShardCount: env.CITUS_SHARD_COUNT ? count(env, 'CITUS_SHARD_COUNT', 0, 1, 64_000) : undefined,
  };
}

function count(env: NodeJS.ProcessEnv, name: string, fallback: number, min: number, max: number): number {
  const text = env[name];
  if (!text) return fallback;
  const value = Number(text);
  if (!Number.isInteger(value) || value < min || value > max) throw new Error(`${name} must be an integer from ${min} to ${max}, got "${text}"`);
  return value;
}

function port(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const text = env[name];
  if (!text) return fallback;
  const value = Number(text);
  if (!Number.isInteger(value) || value < 0 || value > 65535) throw new Error(`${name} must be a port number, got "${text}"`);
  return value;
}

function ratio(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const text = env[name];
  if (!text) return fallback;
  const value = Number(text);
  if (!(value >= 0 && value <= 1)) throw new Error(`${name} must be a number from 0 to 1, got "${text}"`);
  return value;
}

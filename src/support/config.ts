import os from 'node:os';
import path from 'node:path';
import { Cron } from 'croner';
import { StartupError } from './errors.js';

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
  /**
   * A successful run that rejected more than this share of a file's rows (or has knock-on rejects)
   * carries a warning in its record, the CLI exits 4 and bin/trigger.sh 4 (docs/day-two.md).
   */
  warnRejectRatio: number;
  /**
   * The publish guard: a run with fewer users or experiments than the published run by more than
   * this share fails (422) and publishes nothing, unless forced (POST /data?force=1, `--force`).
   * 1 turns the guard off.
   */
  maxDropRatio: number;
  /** Publish a run whose users or experiments file has no data rows. */
  allowEmpty: boolean;
  /** The loader's typing fast path (ETL_TYPED_FAST_PATH=0 turns it off: every row is then judged by the SQL). */
  typedFastPath: boolean;
  /** Rejects are kept for this many of the newest runs, and features for this many of the newest successful ones. */
  keepRuns: number;
  /** Run records (etl.runs, etl.run_files) are kept for this many of the newest runs (never fewer than keepRuns). */
  keepRunRecords: number;
  /** Limits on the API's reads; see ReadLimits. */
  reads: ReadLimits;
  /** The largest multipart body POST /data accepts (bytes); a larger one is answered 413. */
  maxUploadBytes: number;
  /** Where an upload's parts are written while its run needs them (a private directory per upload, removed after). */
  uploadTmpDir: string;
  /**
   * An upload holds the run lock, so it must keep sending: at least this many bytes a second over
   * each window of uploadRateWindowMs while the service waits for it, or it fails (400).
   */
  uploadMinBytesPerSecond: number;
  uploadRateWindowMs: number;
  /** When set, requests that change state need `Authorization: Bearer <apiToken>`. */
  apiToken: string | undefined;
  /** With apiToken set: reads need the token too (except /health). */
  apiTokenReads: boolean;
  /** Origins (`https://dash.example.org`) besides the service's own whose pages may send POST /data. */
  allowedOrigins: string[];
  /** Host names (any port) answered besides localhost, 127.0.0.1 and [::1]; see src/api/origin.ts. */
  allowedHosts: string[];
  /** SCHEDULE: a cron pattern (checked by croner) on which the service runs the ETL on DATA_DIR. */
  schedule: string | undefined;
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

/**
 * 1%: clean upstream data rejects nothing, so one row in a hundred is already worth a look, and
 * well below MAX_REJECT_RATIO's 50%, which fails a run whose file is probably the wrong one.
 */
export const DEFAULT_WARN_REJECT_RATIO = 0.01;

/**
 * 50%: a truncated or half-exported file (the case this guards against) loses about that much or
 * more; a data set that genuinely shrinks by half from one run to the next is rare enough to ask
 * for `force` once.
 */
export const DEFAULT_MAX_DROP_RATIO = 0.5;

export const DEFAULT_MAX_UPLOAD_BYTES = 2 * 1024 ** 3;

/**
 * 16 KiB/s (about 131 kbit/s) is below any link a person would upload from, and 15 s frees the lock soon
 * after a client stalls; together they ask for 240 KiB in every 15 s that the service waits.
 */
export const DEFAULT_UPLOAD_MIN_RATE = { uploadMinBytesPerSecond: 16 * 1024, uploadRateWindowMs: 15_000 };

export function readConfig(env: NodeJS.ProcessEnv = process.env): Config {
  return {
    host: env.HOST || '127.0.0.1',
    port: port(env, 'PORT', 8080),
    dataDir: path.resolve(env.DATA_DIR || 'data'),
    databaseUrl: env.DATABASE_URL || undefined,
    embeddedDir: path.resolve(env.EMBEDDED_PG_DIR || '.pgdata'),
    embeddedPort: port(env, 'EMBEDDED_PG_PORT', 54329),
    maxRejectRatio: ratio(env, 'MAX_REJECT_RATIO', 0.5),
    warnRejectRatio: ratio(env, 'WARN_REJECT_RATIO', DEFAULT_WARN_REJECT_RATIO),
    maxDropRatio: ratio(env, 'MAX_DROP_RATIO', DEFAULT_MAX_DROP_RATIO),
    allowEmpty: env.ALLOW_EMPTY === '1',
    typedFastPath: env.ETL_TYPED_FAST_PATH !== '0',
    keepRuns: count(env, 'KEEP_RUNS', 20, 1, 1_000_000),
    keepRunRecords: count(env, 'KEEP_RUN_RECORDS', 1000, 1, 1_000_000_000),
    reads: {
      maxStreams: count(env, 'MAX_STREAMS', DEFAULT_READ_LIMITS.maxStreams, 1, 100),
      streamIdleTimeoutMs: count(env, 'STREAM_IDLE_TIMEOUT_MS', DEFAULT_READ_LIMITS.streamIdleTimeoutMs, 100, 3_600_000),
      statementTimeoutMs: count(env, 'STATEMENT_TIMEOUT_MS', DEFAULT_READ_LIMITS.statementTimeoutMs, 100, 3_600_000),
    },
    maxUploadBytes: count(env, 'MAX_UPLOAD_BYTES', DEFAULT_MAX_UPLOAD_BYTES, 1, Number.MAX_SAFE_INTEGER),
    uploadTmpDir: path.resolve(env.UPLOAD_TMPDIR || os.tmpdir()),
    uploadMinBytesPerSecond: count(env, 'UPLOAD_MIN_BYTES_PER_SECOND', DEFAULT_UPLOAD_MIN_RATE.uploadMinBytesPerSecond, 1, 1024 ** 3),
    // At most Node's requestTimeout (300 s), which would cut the upload first and be told as a disconnect.
    uploadRateWindowMs: count(env, 'UPLOAD_RATE_WINDOW_MS', DEFAULT_UPLOAD_MIN_RATE.uploadRateWindowMs, 100, 300_000),
    apiToken: env.API_TOKEN || undefined,
    apiTokenReads: env.API_TOKEN_READS === '1',
    allowedOrigins: list(env, 'ALLOWED_ORIGINS', origin),
    allowedHosts: list(env, 'ALLOWED_HOSTS', hostName),
    schedule: schedule(env.SCHEDULE),
    citusShardCount: env.CITUS_SHARD_COUNT ? count(env, 'CITUS_SHARD_COUNT', 0, 1, 64_000) : undefined,
  };
}

/** A comma-separated list, each item checked (and normalised) by `item`, which throws a message. */
function list(env: NodeJS.ProcessEnv, name: string, item: (text: string) => string): string[] {
  const items = (env[name] ?? '')
    .split(',')
    .map((text) => text.trim())
    .filter(Boolean);
  return items.map((text) => {
    try {
      return item(text);
    } catch (error) {
      throw new Error(`${name} must be a comma-separated list of ${(error as Error).message}, got "${text}"`, { cause: error });
    }
  });
}

/** An origin as browsers send it in `Origin`: scheme, host and port only. */
function origin(text: string): string {
  const what = 'origins such as https://dash.example.org or http://localhost:3000 (no path)';
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new Error(what);
  }
  if (
    !['http:', 'https:'].includes(url.protocol) ||
    url.username ||
    url.password ||
    url.pathname !== '/' ||
    url.search ||
    url.hash ||
    text.endsWith('/')
  )
    throw new Error(what);
  return url.origin;
}

/** A host name or IP address as the URL standard writes it (lower case, IPv6 in brackets), without a port. */
function hostName(text: string): string {
  const what = 'host names such as etl.example.org or 192.168.1.20 (no scheme, no port)';
  let url: URL;
  try {
    url = new URL(`http://${text}`);
  } catch {
    throw new Error(what);
  }
  if (url.host !== url.hostname || url.host !== text.toLowerCase()) throw new Error(what);
  return url.hostname;
}

/** A cron pattern croner accepts (5 fields, or 6 with seconds first), else one line saying so. */
function schedule(text: string | undefined): string | undefined {
  if (!text?.trim()) return undefined;
  try {
    new Cron(text.trim(), { paused: true }).stop();
  } catch (error) {
    throw new StartupError(
      `SCHEDULE must be a cron pattern such as "0 3 * * *" (every day at 03:00), got "${text}": ${(error as Error).message}`,
    );
  }
  return text.trim();
}

function count(env: NodeJS.ProcessEnv, name: string, fallback: number, min: number, max: number): number {
  const text = env[name];
  if (!text) return fallback;
  const value = Number(text);
  if (!Number.isInteger(value) || value < min || value > max)
    throw new StartupError(`${name} must be an integer from ${min} to ${max}, got "${text}"`);
  return value;
}

function port(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const text = env[name];
  if (!text) return fallback;
  const value = Number(text);
  if (!Number.isInteger(value) || value < 0 || value > 65535) throw new StartupError(`${name} must be a port number, got "${text}"`);
  return value;
}

function ratio(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const text = env[name];
  if (!text) return fallback;
  const value = Number(text);
  if (!(value >= 0 && value <= 1)) throw new StartupError(`${name} must be a number from 0 to 1, got "${text}"`);
  return value;
}

import path from 'node:path';

/** Everything the service reads from the environment, parsed once. */
export interface Config {
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
}

export function readConfig(env: NodeJS.ProcessEnv = process.env): Config {
  return {
    port: port(env, 'PORT', 8080),
    dataDir: path.resolve(env.DATA_DIR || 'data'),
    databaseUrl: env.DATABASE_URL || undefined,
    embeddedDir: path.resolve(env.EMBEDDED_PG_DIR || '.pgdata'),
    embeddedPort: port(env, 'EMBEDDED_PG_PORT', 54329),
    maxRejectRatio: ratio(env, 'MAX_REJECT_RATIO', 0.5),
    allowEmpty: env.ALLOW_EMPTY === '1',
    keepRuns: count(env, 'KEEP_RUNS', 20),
  };
}

function port(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const text = env[name];
  if (!text) return fallback;
  const value = Number(text);
  if (!Number.isInteger(value) || value < 0 || value > 65535) throw new Error(`${name} must be a port number, got "${text}"`);
  return value;
}

function count(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const text = env[name];
  if (!text) return fallback;
  if (!/^[1-9][0-9]{0,5}$/.test(text)) throw new Error(`${name} must be a whole number from 1 to 999999, got "${text}"`);
  return Number(text);
}

function ratio(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const text = env[name];
  if (!text) return fallback;
  const value = Number(text);
  if (!(value >= 0 && value <= 1)) throw new Error(`${name} must be a number from 0 to 1, got "${text}"`);
  return value;
}

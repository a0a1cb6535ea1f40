import { once } from 'node:events';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import type { ReadLimits } from '../src/support/config.js';
import { openDb, type DbHandle } from '../src/db/connect.js';
import { featuresJson, type FeaturesPage, type UserFeatures } from '../src/read/features.js';
import { runEtl, type EtlOptions } from '../src/run/pipeline.js';
import type { RunRecord } from '../src/read/runs.js';

import { ROOT } from './service.js';

export { ROOT };
/** The brief's three example files, committed byte for byte (`,\t`, CRLF, blank first line, no final newline). */
export const CHALLENGE_DIR = path.join(ROOT, 'test/fixtures/challenge');
export const SAMPLE_DIR = path.join(ROOT, 'data');

let databases = 0;

/**
 * A new database on the suite's server (see test/runner.ts), a copy of the migrated template: no run,
 * no data; dropped on close.
 * `reads` overrides the API's read limits (MAX_STREAMS and the like); `settings` are the
 * database's own defaults for every session (ALTER DATABASE ... SET).
 */
export async function testDatabase(reads?: ReadLimits, settings: Record<string, string> = {}): Promise<DbHandle> {
  const adminUrl = process.env.TEST_DATABASE_URL;
  const template = process.env.TEST_TEMPLATE_DATABASE;
  if (!adminUrl || !template) throw new Error('TEST_DATABASE_URL is not set: run the tests with `npm test`');
  const name = `lab_etl_test_${process.pid}_${++databases}`;
  const admin = new pg.Client(adminUrl);
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name} TEMPLATE ${template}`);
  for (const [setting, value] of Object.entries(settings)) await admin.query(`ALTER DATABASE ${name} SET ${setting} = '${value}'`);
  await admin.end();
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  const database = await openDb({ databaseUrl: url.toString(), embeddedDir: '', embeddedPort: 0, reads });
  return {
    ...database,
    async close() {
      await database.close();
      const admin = new pg.Client(adminUrl);
      await admin.connect();
      await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await admin.end();
    },
  };
}

/**
 * A run's options for the tests. The publish guard is off (maxDropRatio 1): most tests switch
 * between unrelated small data sets; test/api/warnings.test.ts turns it on to test it.
 */
export const options = (dataDir: string, extra: Partial<EtlOptions> = {}): EtlOptions => ({
  dataDir,
  maxRejectRatio: 0.5,
  maxDropRatio: 1,
  ...extra,
});

export const run = (database: DbHandle, dataDir: string, extra: Partial<EtlOptions> = {}) => runEtl(database, options(dataDir, extra));

/** Writes the three files (CRLF, `,\t` like the challenge unless given raw text) into a new temp dir. */
export async function dataDir(files: Partial<Record<'users' | 'compounds' | 'experiments', string | string[][]>>) {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'lab-etl-data-'));
  const defaults = {
    users: [
      ['user_id', 'name', 'email', 'signup_date'],
      ['1', 'Ann', 'ann@example.com', '2023-01-01'],
    ],
    compounds: [
      ['compound_id', 'compound_name', 'compound_structure'],
      ['1', 'Aspirin', 'C9H8O4'],
    ],
    experiments: [
      ['experiment_id', 'user_id', 'experiment_compound_ids', 'experiment_run_time'],
      ['1', '1', '1', '10'],
    ],
  };
  const names = { users: 'users.csv', compounds: 'compounds.csv', experiments: 'user_experiments.csv' } as const;
  for (const key of ['users', 'compounds', 'experiments'] as const) {
    const content = files[key] ?? defaults[key];
    const text = typeof content === 'string' ? content : content.map((r) => r.join(',\t')).join('\r\n');
    await writeFile(path.join(dir, names[key]), text);
  }
  return dir;
}

export const removeDir = (dir: string) => rm(dir, { recursive: true, force: true });

/** Rows of a query against the service's database, as psql would show them. */
export async function query<T = Record<string, unknown>>(database: DbHandle, text: string, params: unknown[] = []) {
  return (await database.pool.query(text, params)).rows as T[];
}

export { once };

/** What GET /data answers, read through the same streaming code and parsed. */
export async function features(database: DbHandle, page?: FeaturesPage) {
  let text = '';
  for await (const chunk of featuresJson(database.readers.streams, page)) text += chunk;
  return JSON.parse(text) as {
    run: RunRecord | null;
    average_experiments_per_user: number | null;
    users: UserFeatures[];
    next_after?: number | null;
  };
}

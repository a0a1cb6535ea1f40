// Backup and restore as docs/day-two.md tells a user to: bin/backup.sh (the system's pg_dump) of
// the embedded PostgreSQL while the service runs, pg_restore into a fresh database, the service
// started on it with DATABASE_URL: it serves the same bytes.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, cp, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { CHALLENGE_DIR, ROOT } from '../helpers.js';
import { freePort, startService, stopService, type Service } from '../service.js';

const exec = promisify(execFile);
const started: Service[] = [];
const removals: string[] = [];
let dropDatabase: (() => Promise<void>) | null = null;
after(async () => {
  for (const service of started) if (service.child.exitCode === null) await stopService(service).catch(() => {});
  for (const dir of removals) await rm(dir, { recursive: true, force: true });
  await dropDatabase?.();
});

async function start(env: Record<string, string>): Promise<Service> {
  const service = await startService(env, { timeoutMs: 60_000 });
  started.push(service);
  return service;
}

const bytes = async (service: Service, route: string) => Buffer.from(await (await fetch(`${service.base}${route}`)).arrayBuffer());

/**
 * The backup both tests restore, made once (a cluster's first start and runs are the costly part):
 * bin/backup.sh, the documented command, of a service on an embedded PostgreSQL of its own, while
 * it runs, after two runs; with what the service answered before it was stopped.
 */
let made: Promise<{ dir: string; file: string; backup: { stderr: string }; before: Record<'json' | 'csv' | 'runs', Buffer> }> | undefined;
function backupOfTwoRuns() {
  made ??= (async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'lab-etl-backup-test-'));
    await chmod(dir, 0o755); // as root the embedded server runs as postgres
    removals.push(dir);
    const pgPort = String(await freePort());
    const dataDir = path.join(dir, 'data');
    await cp(CHALLENGE_DIR, dataDir, { recursive: true });
    const original = await start({ EMBEDDED_PG_DIR: path.join(dir, 'pgdata'), EMBEDDED_PG_PORT: pgPort, DATA_DIR: dataDir });
    for (let i = 0; i < 2; i++) assert.equal((await fetch(`${original.base}/data`, { method: 'POST' })).status, 200);
    const before = { json: await bytes(original, '/data'), csv: await bytes(original, '/data.csv'), runs: await bytes(original, '/runs') };
    const file = path.join(dir, 'etl.dump');
    const backup = await exec('bin/backup.sh', [file], { cwd: ROOT, env: { ...process.env, DATABASE_URL: '', EMBEDDED_PG_PORT: pgPort } });
    assert.equal((await stopService(original)).code, 0);
    return { dir, file, backup, before };
  })();
  return made;
}

test('bin/backup.sh of the embedded PostgreSQL, pg_restore into a fresh database: the service on it answers GET /data with the same bytes', async () => {
  const { dir, file, backup, before } = await backupOfTwoRuns();
  assert.ok(existsSync(file) && !existsSync(`${file}.partial`), backup.stderr);
  assert.match(backup.stderr, new RegExp(`^backup: ${file} \\(`));

  // A fresh, empty database on the suite's server (the embedded PostgreSQL 15, or DATABASE_URL).
  const admin = new pg.Client(process.env.TEST_DATABASE_URL);
  await admin.connect();
  const name = `lab_etl_restored_${process.pid}`;
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  dropDatabase = async () => {
    const again = new pg.Client(process.env.TEST_DATABASE_URL);
    await again.connect();
    await again.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    await again.end();
  };
  const url = new URL(process.env.TEST_DATABASE_URL!);
  url.pathname = `/${name}`;
  await exec('pg_restore', ['--no-owner', '--no-acl', '--exit-on-error', `--dbname=${url}`, file]);

  // An empty DATA_DIR: what it serves can only come from the restored database.
  const restored = await start({ DATABASE_URL: url.toString(), DATA_DIR: path.join(dir, 'nothing') });
  assert.deepEqual(await bytes(restored, '/data'), before.json, 'GET /data');
  assert.deepEqual(await bytes(restored, '/data.csv'), before.csv, 'GET /data.csv');
  assert.deepEqual(await bytes(restored, '/runs'), before.runs, 'GET /runs: the run history came along');
  // And it goes on where the backup left off: the next run (failing: no files) gets the next id.
  const next = await fetch(`${restored.base}/data`, { method: 'POST' });
  assert.equal(next.status, 422, 'no files in its DATA_DIR');
  assert.equal(((await next.json()) as { run_id: number }).run_id, 3);
  assert.equal((await stopService(restored)).code, 0);
});

test('the same backup restored over a fresh embedded PostgreSQL (pg_restore --clean while the service runs) serves the same bytes', async () => {
  const { dir, file, before: answered } = await backupOfTwoRuns();
  const before = answered.json;
  const port = async () => String(await freePort());
  const pgPort = await port();
  const fresh = await start({ EMBEDDED_PG_DIR: path.join(dir, 'new'), EMBEDDED_PG_PORT: pgPort, DATA_DIR: path.join(dir, 'nothing') });
  assert.equal((await fetch(`${fresh.base}/data`)).status, 200);
  assert.notDeepEqual(await bytes(fresh, '/data'), before, 'a fresh cluster has no features yet');
  await exec('pg_restore', [
    '--clean',
    '--if-exists',
    '--single-transaction',
    '--no-owner',
    '--no-acl',
    '--exit-on-error',
    `--dbname=postgres://postgres:postgres@127.0.0.1:${pgPort}/postgres`,
    file,
  ]);
  assert.deepEqual(await bytes(fresh, '/data'), before, 'GET /data at once, without a restart');
  assert.equal((await stopService(fresh)).code, 0);
});

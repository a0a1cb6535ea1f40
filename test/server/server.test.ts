// The real entry points as a user runs them: the server process (embedded PostgreSQL and
// DATABASE_URL), bin/trigger.sh, bin/query.sh and `npm run etl`.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { chmod, cp, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { CHALLENGE_DIR, ROOT, testDatabase } from '../helpers.js';
import { freePort, startService, stopService, type Service } from '../service.js';

const exec = promisify(execFile);

const startServer = (env: Record<string, string>) => startService(env, { timeoutMs: 60_000 });
const stop = async (service: Service) => (await stopService(service)).code;

test('with no DATABASE_URL the server starts its embedded PostgreSQL; trigger.sh and query.sh work against it', async () => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'lab-etl-embedded-'));
  await chmod(dir, 0o755);
  const pgPort = String(await freePort());
  const env = { EMBEDDED_PG_DIR: path.join(dir, 'pgdata'), EMBEDDED_PG_PORT: pgPort, DATA_DIR: path.join(ROOT, 'data') };
  const server = await startServer(env);
  try {
    assert.match(
      server.output(),
      /listening on http:\/\/127\.0\.0\.1:(\d+) \(embedded PostgreSQL\); dashboard http:\/\/127\.0\.0\.1:\1\/; input files in \S*data; database folder \S+pgdata \(PostgreSQL 15\.\d+\)/,
    );
    assert.ok(server.output().includes(`curl -X POST ${server.base}/data`), 'start-up names the next commands with the real port');
    const trigger = await exec('bin/trigger.sh', [server.base], { cwd: ROOT });
    const summary = JSON.parse(trigger.stdout);
    assert.equal(summary.status, 'succeeded');
    assert.equal(summary.features.average_experiments_per_user, 1.75);

    const psql = await exec('bin/query.sh', [], { cwd: ROOT, env: { ...process.env, DATABASE_URL: '', EMBEDDED_PG_PORT: pgPort } });
    assert.match(psql.stdout, /average_experiments_per_user[\s\S]*1\.75/);
    assert.match(psql.stdout, /\n\s+12 \|\s+0\n/, 'user 12 has no experiments');
    assert.match(psql.stdout, /Metformin/);
    assert.match(psql.stdout, /\(12 rows\)/);
  } finally {
    assert.equal(await stop(server), 0);
  }
  // The cluster stopped with the service and the results survive a restart.
  const again = await startServer(env);
  try {
    const data = (await (await fetch(`${again.base}/data`)).json()) as any;
    assert.equal(data.users.length, 12);
  } finally {
    assert.equal(await stop(again), 0);
    await rm(dir, { recursive: true, force: true });
  }
});

test('with DATABASE_URL the server uses that database; npm run --silent etl prints the run, and only it, on stdout', async () => {
  const database = await testDatabase();
  try {
    const dataDir = await mkdtemp(path.join(os.tmpdir(), 'lab-etl-data-'));
    await cp(CHALLENGE_DIR, dataDir, { recursive: true });
    const server = await startServer({ DATABASE_URL: database.url, DATA_DIR: dataDir });
    try {
      assert.match(server.output(), /\(DATABASE_URL\)/);
      assert.doesNotMatch(server.output(), /postgres:\/\//, 'the connection string is never logged');
      const posted = await fetch(`${server.base}/data`, { method: 'POST' });
      assert.equal(posted.status, 200);
      const user = (await (await fetch(`${server.base}/data/users/4`)).json()) as any;
      assert.deepEqual(user.top_compound_ids, [1, 2, 3]);

      // Header-only experiments would publish users with nothing: refused, the features stay.
      const published = await (await fetch(`${server.base}/data`)).text();
      await writeFile(
        path.join(dataDir, 'user_experiments.csv'),
        'experiment_id,\tuser_id,\texperiment_compound_ids,\texperiment_run_time\r\n',
      );
      const empty = await fetch(`${server.base}/data`, { method: 'POST' });
      assert.equal(empty.status, 422);
      assert.match(((await empty.json()) as any).error, /^user_experiments\.csv: the file has no data rows/);
      assert.equal(await (await fetch(`${server.base}/data`)).text(), published);
    } finally {
      assert.equal(await stop(server), 0);
      await rm(dataDir, { recursive: true, force: true });
    }
    // As docs/day-two.md has it for a pipe (`npm run --silent etl | jq`): stdout is the JSON alone.
    const etl = await exec('npm', ['run', '--silent', 'etl'], {
      cwd: ROOT,
      env: { ...process.env, DATABASE_URL: database.url, DATA_DIR: path.join(ROOT, 'data') },
    });
    const run = JSON.parse(etl.stdout);
    assert.equal(run.status, 'succeeded');
    assert.equal(run.features.users, 12);
    const failed = await exec(process.execPath, ['--import', 'tsx', 'src/cli.ts'], {
      cwd: ROOT,
      env: { ...process.env, DATABASE_URL: database.url, DATA_DIR: '/nonexistent' },
    }).then(
      () => null,
      (error: { code: number; stderr: string }) => error,
    );
    assert.equal(failed?.code, 2);
    assert.match(failed!.stderr, /etl: \/nonexistent: the data directory does not exist/);
  } finally {
    await database.close();
  }
});

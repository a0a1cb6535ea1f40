// Issue 22, items 2-4, on hand-made files: warnings (a run that succeeds but lost rows), knock-on
// rejects that name their cause, and the publish guard. Through the API (createApp), the service
// process with bin/trigger.sh, and the CLI, all on a real database.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { createApp } from '../../src/api/app.js';
import type { DbHandle } from '../../src/db/connect.js';
import { CHALLENGE_DIR, ROOT, dataDir, options, removeDir, testDatabase } from '../helpers.js';
import { nodeArgs, startService, stopService } from '../service.js';

const exec = promisify(execFile);
let database: DbHandle;

before(async () => {
  database = await testDatabase();
});
after(() => database.close());

const HEADERS = {
  users: 'user_id,\tname,\temail,\tsignup_date',
  compounds: 'compound_id,\tcompound_name,\tcompound_structure',
  experiments: 'experiment_id,\tuser_id,\texperiment_compound_ids,\texperiment_run_time',
};
const file = (header: string, rows: string[]) => [header, ...rows].join('\r\n');

/** `n` users 1..n (plus `extra` rows), compounds 1-3, and `experiments` (one per user by default). */
function files({ users = 10, extraUsers = [] as string[], compounds = [] as string[], experiments = null as string[] | null } = {}) {
  return dataDir({
    users: file(HEADERS.users, [
      ...Array.from({ length: users }, (_, i) => `${i + 1},\tUser ${i + 1},\tu${i + 1}@example.org,\t2023-01-01`),
      ...extraUsers,
    ]),
    compounds: file(HEADERS.compounds, ['1,\tA,\tC1', '2,\tB,\tC2', '3,\tC,\tC3', ...compounds]),
    experiments: file(HEADERS.experiments, experiments ?? Array.from({ length: users }, (_, i) => `${i + 1},\t${i + 1},\t1;2,\t10`)),
  });
}

type Json = any;

async function post(app: ReturnType<typeof createApp>, query = '') {
  const response = await app.request(`/data${query}`, { method: 'POST' });
  return { status: response.status, body: (await response.json()) as Json };
}

async function scrape(app: ReturnType<typeof createApp>, name: string): Promise<number | undefined> {
  const text = await (await app.request('/metrics')).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name} `));
  return line === undefined ? undefined : Number(line.slice(name.length + 1));
}

test('knock-on rejects name the rejected row they follow from, after it, and the run succeeds with warnings', async () => {
  const longName = 'x'.repeat(1001);
  const dir = await dataDir({
    users: file(HEADERS.users, [
      '1,\tAnn,\tann@example.org,\t09/01/2023', // line 2: rejected, the cause
      '2,\tBob,\tbob@example.org,\t2023-02-01',
      '3,\tCid,\tcid@example.org,\t2023-13-01', // line 4: rejected
      '3,\tCid,\tcid@example.org,\t2023-03-01', // line 5: user 3 after all (the first valid row wins)
      '1,\tAnn,\tann@example.org,\t1 Sep 2023', // line 6: user 1 rejected again: line 2 stays the cause
    ]),
    compounds: file(HEADERS.compounds, ['1,\tA,\tC1', '2,\tB,\tC2', `3,\t${longName},\tC3`]), // line 4: rejected
    experiments: file(HEADERS.experiments, [
      '1,\t1,\t1,\t10', // line 2: user 1 was rejected
      '2,\t2,\t1;3,\t10', // line 3: compound 3 was rejected
      '3,\t2,\t1;9,\t10', // line 4: compound 9 is in no file
      '4,\t99,\t1,\t10', // line 5: user 99 is in no file
      '5,\t3,\t2,\t10', // line 6: accepted (user 3's valid row)
      '6,\t2,\t2,\t10', // line 7: accepted
      '7,\t1,\tx,\t10', // line 8: its own problem comes first
    ]),
  });
  // Most rows of each file are rejected on purpose: MAX_REJECT_RATIO must not fail the run.
  const app = createApp(database, options(dir, { maxRejectRatio: 1 }));
  const { status, body: run } = await post(app);
  assert.equal(status, 200);
  assert.equal(run.status, 'succeeded');
  assert.deepEqual([run.features.users, run.features.experiments], [2, 2]);

  const { rejected } = (await (await app.request(`/runs/${run.run_id}/rejects`)).json()) as Json;
  const userCause = "signup_date '09/01/2023' is not a valid date (YYYY-MM-DD)";
  const compoundCause = 'compound_name is longer than 1000 characters (1001)';
  // Causes before consequences: users.csv, compounds.csv, then the experiments; each row keeps its own line and raw text.
  assert.deepEqual(
    rejected.map((r: Json) => [r.file, r.line, r.reason, r.cause_file, r.cause_line]),
    [
      ['users.csv', 2, userCause, null, null],
      ['users.csv', 4, "signup_date '2023-13-01' is not a valid date (YYYY-MM-DD)", null, null],
      ['users.csv', 6, "signup_date '1 Sep 2023' is not a valid date (YYYY-MM-DD)", null, null],
      ['compounds.csv', 4, compoundCause, null, null],
      ['user_experiments.csv', 2, `user_id 1 was rejected: users.csv line 2: ${userCause}`, 'users.csv', 2],
      ['user_experiments.csv', 3, `compound 3 was rejected: compounds.csv line 4: ${compoundCause}`, 'compounds.csv', 4],
      ['user_experiments.csv', 4, 'compound 9 is not an accepted compound', null, null],
      ['user_experiments.csv', 5, 'user_id 99 is not an accepted user', null, null],
      ['user_experiments.csv', 8, `experiment_compound_ids 'x' is not a ";"-separated list of positive integers`, null, null],
    ],
  );
  assert.deepEqual(
    rejected.filter((r: Json) => r.file === 'user_experiments.csv').map((r: Json) => r.raw),
    ['1,\t1,\t1,\t10', '2,\t2,\t1;3,\t10', '3,\t2,\t1;9,\t10', '4,\t99,\t1,\t10', '7,\t1,\tx,\t10'],
  );

  // Every file lost more than 1% (WARN_REJECT_RATIO's default), and two experiments are knock-ons.
  assert.deepEqual(
    run.warnings.map((w: Json) => [w.kind, w.file, w.rows]),
    [
      ['rejects', 'users.csv', 3],
      ['rejects', 'compounds.csv', 1],
      ['rejects', 'user_experiments.csv', 5],
      ['knock_on_rejects', 'user_experiments.csv', 2],
    ],
  );
  assert.equal(
    run.warnings[0].message,
    `users.csv: 3 of 5 rows (60%) were rejected, more than WARN_REJECT_RATIO=0.01; see GET /runs/${run.run_id}/rejects`,
  );
  assert.equal(
    run.warnings[3].message,
    `user_experiments.csv: 2 rows were rejected because the user or compound they name was rejected (users.csv line 2, compounds.csv line 4); see GET /runs/${run.run_id}/rejects`,
  );
  // The run record keeps them: GET /runs/:id and GET /runs say the same.
  assert.deepEqual(((await (await app.request(`/runs/${run.run_id}`)).json()) as Json).warnings, run.warnings);
  const runs = (await (await app.request('/runs')).json()) as Json;
  assert.deepEqual(runs.runs.find((r: Json) => r.run_id === run.run_id).warnings, run.warnings);
  // The metrics, and the dashboard's badge and run page.
  assert.equal(await scrape(app, 'etl_runs_with_warnings_total'), 1);
  assert.equal(await scrape(app, 'etl_last_run_warnings{kind="rejects"}'), 3);
  assert.equal(await scrape(app, 'etl_last_run_warnings{kind="knock_on_rejects"}'), 1);
  const page = await (await app.request(`/ui/runs/${run.run_id}`)).text();
  assert.match(page, /succeeded, with warnings/);
  assert.ok(
    page.includes('2 rows were rejected because the user or compound they name was rejected (users.csv line 2, compounds.csv line 4)'),
  );
  await removeDir(dir);
});

test('no warnings when nothing was rejected, or fewer rows than WARN_REJECT_RATIO and no knock-on', async () => {
  const clean = createApp(database, options(CHALLENGE_DIR));
  const { body: run } = await post(clean);
  assert.deepEqual([run.status, run.warnings], ['succeeded', []]);
  assert.equal(await scrape(clean, 'etl_runs_with_warnings_total'), 0);
  assert.equal(await scrape(clean, 'etl_last_run_warnings{kind="rejects"}'), 0);

  // 1 of 10 users rejected with no experiment of its own: 10%, a warning at 0.09, none at 0.1.
  const dir = await files({ users: 9, extraUsers: ['10,\tTen,\tten@example.org,\tnot a date'] });
  const at = (warnRejectRatio: number) => post(createApp(database, options(dir, { warnRejectRatio })));
  assert.deepEqual(
    ((await at(0.09)).body.warnings as Json[]).map((w) => [w.kind, w.file, w.rows]),
    [['rejects', 'users.csv', 1]],
  );
  assert.deepEqual((await at(0.1)).body.warnings, []);
  await removeDir(dir);
});

test('the publish guard: a large drop fails with 422 naming both counts, publishes nothing, and ?force=1 publishes it', async () => {
  const guarded = (dir: string) => createApp(database, options(dir, { maxDropRatio: 0.5 }));
  const full = await files({ users: 10 });
  assert.equal((await post(guarded(full))).status, 200);
  const published = await (await guarded(full).request('/data')).text();

  // A truncated users file: 4 of 10 users (60% fewer) and their 4 experiments.
  const truncated = await files({ users: 4 });
  const app = guarded(truncated);
  const { status, body } = await post(app);
  assert.equal(status, 422);
  const previous = JSON.parse(published).run.run_id;
  assert.equal(
    body.error,
    `run ${body.run_id} would publish 4 users and 4 experiments where the published run ${previous} has 10 users and 10 experiments: ` +
      '60% fewer users and 60% fewer experiments, more than MAX_DROP_RATIO=0.5 allows; nothing was published. ' +
      'If the files are right, publish them anyway: POST /data?force=1 (bin/trigger.sh --force, npm run etl -- --force)',
  );
  assert.equal(await (await app.request('/data')).text(), published, 'the published features are unchanged');
  const failed = (await (await app.request(`/runs/${body.run_id}`)).json()) as Json;
  assert.deepEqual(
    [failed.status, failed.error, failed.features.users],
    ['failed', body.error, 4],
    'the refused run is recorded with its counts',
  );

  // Only experiments dropping is a drop too; exactly MAX_DROP_RATIO is not above it.
  const fewExperiments = await files({ users: 10, experiments: ['1,\t1,\t1,\t10', '2,\t2,\t1,\t10', '3,\t3,\t1,\t10', '4,\t4,\t1,\t10'] });
  const dropped = await post(guarded(fewExperiments));
  assert.equal(dropped.status, 422);
  assert.match(
    dropped.body.error,
    /would publish 10 users and 4 experiments where .* has 10 users and 10 experiments: 60% fewer experiments, more/,
  );
  const half = await files({ users: 5 });
  assert.equal((await post(guarded(half))).status, 200, '50% fewer is allowed at MAX_DROP_RATIO=0.5');
  assert.equal((await post(guarded(full))).status, 200, 'growing is always allowed');

  assert.equal((await post(app, '?force=2')).status, 400);
  const forced = await post(app, '?force=1');
  assert.deepEqual([forced.status, forced.body.features.users], [200, 4]);
  const now = JSON.parse(await (await app.request('/data')).text());
  assert.deepEqual([now.run.run_id, now.users.length], [forced.body.run_id, 4]);
  for (const dir of [full, truncated, fewExperiments, half]) await removeDir(dir);
});

test('the CLI exits 4 with warnings on stderr, 2 when the guard refuses, and --force publishes', async () => {
  const own = await testDatabase();
  const cli = (dir: string, args: string[] = [], env: Record<string, string> = {}) =>
    exec(process.execPath, [...nodeArgs('src/cli.ts'), ...args], {
      cwd: ROOT,
      env: { ...process.env, DATABASE_URL: own.url, DATA_DIR: dir, LOG_FORMAT: 'json', ...env },
    }).then(
      ({ stdout, stderr }) => ({ code: 0, stdout, stderr }),
      (error: { code: number; stdout: string; stderr: string }) => error,
    );
  const full = await files({ users: 10 });
  const warned = await files({
    users: 10,
    experiments: ['1,\t1,\t1;4,\t10', ...Array.from({ length: 9 }, (_, i) => `${i + 2},\t${i + 2},\t1,\t10`)],
  });
  const truncated = await files({ users: 2 });
  try {
    assert.equal((await cli(full)).code, 0);
    const withWarnings = await cli(warned);
    assert.equal(withWarnings.code, 4);
    const run = JSON.parse(withWarnings.stdout);
    assert.deepEqual([run.status, run.warnings.length], ['succeeded', 1]);
    assert.match(
      withWarnings.stderr,
      /^etl: warning: user_experiments\.csv: 1 of 10 rows \(10%\) were rejected, more than WARN_REJECT_RATIO=0\.01/m,
    );
    assert.equal((await cli(warned, [], { WARN_REJECT_RATIO: '0.1' })).code, 0, 'WARN_REJECT_RATIO is read from the environment');

    const refused = await cli(truncated);
    assert.equal(refused.code, 2);
    assert.match(
      refused.stderr,
      /^etl: run \d+ would publish 2 users and 2 experiments where the published run \d+ has 10 users and 9 experiments/m,
    );
    assert.equal((await cli(truncated, [], { MAX_DROP_RATIO: '0.9' })).code, 0, 'MAX_DROP_RATIO is read from the environment');
    assert.equal((await cli(full)).code, 0);
    const forced = await cli(truncated, ['--force']);
    assert.equal(forced.code, 0);
    assert.equal(JSON.parse(forced.stdout).features.users, 2);
    assert.equal((await cli(full, ['--forse'])).code, 1);
  } finally {
    for (const dir of [full, warned, truncated]) await removeDir(dir);
    await own.close();
  }
});

test('bin/trigger.sh prints the warnings and exits 4; --force passes the guard', async () => {
  const own = await testDatabase();
  // MAX_DROP_RATIO '' : the service's default guard (test/service.ts turns it off otherwise).
  const service = await startService({ DATABASE_URL: own.url, MAX_DROP_RATIO: '' });
  const trigger = (args: string[]) =>
    exec('bin/trigger.sh', [service.base, ...args], { cwd: ROOT }).then(
      ({ stdout, stderr }) => ({ code: 0, stdout, stderr }),
      (error: { code: number; stdout: string; stderr: string }) => error,
    );
  const full = await files({ users: 10 });
  const warned = await files({ users: 10, extraUsers: ['11,\tEleven,\te@example.org,\tsoon'] });
  const truncated = await files({ users: 3 });
  try {
    assert.equal((await trigger([full])).code, 0);
    const withWarnings = await trigger([warned]);
    assert.equal(withWarnings.code, 4);
    assert.equal(JSON.parse(withWarnings.stdout).status, 'succeeded');
    assert.match(withWarnings.stderr, /^trigger: warning: users\.csv: 1 of 11 rows \(9\.1%\) were rejected/m);
    const refused = await trigger([truncated]);
    assert.equal(refused.code, 1);
    assert.match(JSON.parse(refused.stdout).error, /would publish 3 users .* POST \/data\?force=1/);
    assert.match(refused.stderr, /trigger: HTTP 422/);
    const forced = await trigger(['--force', truncated]);
    assert.equal(forced.code, 0);
    assert.equal(JSON.parse(forced.stdout).features.users, 3);
  } finally {
    await stopService(service);
    for (const dir of [full, warned, truncated]) await removeDir(dir);
    await own.close();
  }
});

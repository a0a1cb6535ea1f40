// Hostile input files against the real service process, as `npm start` runs it: what HTTP clients,
// the run records (GET /runs) and the log see. DATA_DIR is a symlink switched from one set of files
// to the next. Files are swapped or changed mid-run while the service's load of a staging table
// waits on a lock held by the test: after the files were opened and checked, before they are read.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { appendFile, mkdir, readFile, rename, rm, stat, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { dataDir, removeDir, testDatabase } from '../helpers.js';
import {
  assertCleanError,
  call,
  cleanup,
  onCleanup,
  startService,
  stopService,
  tempDir,
  useSet,
  waitFor,
  withClient,
  type Answer,
  type Service,
} from '../faults/support.js';

const exec = promisify(execFile);
const USERS_HEADER = ['user_id', 'name', 'email', 'signup_date'];
const EXPERIMENTS_HEADER = ['experiment_id', 'user_id', 'experiment_compound_ids', 'experiment_run_time'];

let service: Service;
let url: string;
let root: string;
/** The service's DATA_DIR: a symlink to one set of files. */
let DATA: string;
/** GET /data as published by the last successful run: a failed run must leave it unchanged. */
let published: string;

before(async () => {
  const database = await testDatabase();
  onCleanup(() => database.close());
  url = database.url;
  root = await tempDir('input');
  DATA = path.join(root, 'data');
  await useSet(DATA, await set({}));
  service = await startService({ DATABASE_URL: url, DATA_DIR: DATA });
  onCleanup(async () => {
    await stopService(service);
  });
  assert.equal((await post(DATA)).answer.status, 200);
});
after(cleanup);

/** A new set of the three files (see helpers.dataDir), removed by cleanup(). */
async function set(files: Parameters<typeof dataDir>[0]): Promise<string> {
  const dir = await dataDir(files);
  onCleanup(() => removeDir(dir));
  return dir;
}

/**
 * POST /data with DATA_DIR on `dir`. With `hold`, `hold.during()` runs while the load of
 * `staging.<hold.table>` waits on a lock held here. Returns the answer, the run record and what the
 * service logged meanwhile (once it has logged the run's end).
 */
async function post(dir: string, hold?: { table: string; during: () => Promise<void> }) {
  if (dir !== DATA) await useSet(DATA, dir);
  const logged = service.output().length;
  const request = () => call(service.base, 'POST', '/data', { timeoutMs: 30_000 });
  const answer = hold ? await whileLoadWaits(hold.table, request, hold.during) : await request();
  const runId = answer.body.run_id as number;
  const run = (await call(service.base, 'GET', `/runs/${runId}`)).body;
  if (answer.status === 200) published = (await call(service.base, 'GET', '/data')).text;
  else await waitFor('the failure in the log', async () => service.output().includes(`run ${runId} failed: `));
  return { answer, run, log: service.output().slice(logged) };
}

/** A refused run: 422 with `error`, recorded with that error, the published features unchanged. */
async function refused(dir: string, error: string | RegExp, hold?: Parameters<typeof post>[1]) {
  const result = await post(dir, hold);
  const { answer, run } = result;
  assert.equal(answer.status, 422, answer.text);
  assertCleanError(answer, 'POST /data');
  if (typeof error === 'string') assert.equal(answer.body.error, error);
  else assert.match(answer.body.error, error);
  assert.deepEqual([run.status, run.error], ['failed', answer.body.error], 'GET /runs/:id');
  const listed = (await call(service.base, 'GET', '/runs')).body.runs.find((r: { run_id: number }) => r.run_id === run.run_id);
  assert.equal(listed.error, answer.body.error, 'GET /runs');
  assert.equal((await call(service.base, 'GET', '/data')).text, published, 'the published features are unchanged');
  return result;
}

/**
 * Starts `request`, waits until the service's `TRUNCATE staging.<table>` (the start of that file's
 * load, after every file was opened) waits on a lock this test holds, runs `during`, then lets go.
 */
async function whileLoadWaits(table: string, request: () => Promise<Answer>, during: () => Promise<void>): Promise<Answer> {
  return withClient(url, async (lock) => {
    await lock.query('BEGIN');
    await lock.query(`SET LOCAL lock_timeout = '20s'`); // a run stuck holding it must fail the test, not hang it
    await lock.query(`LOCK TABLE staging.${table} IN ACCESS EXCLUSIVE MODE`);
    const answer = request();
    try {
      await withClient(url, (watcher) =>
        waitFor(`the load of staging.${table} to wait on the lock`, async () => {
          const { rows } = await watcher.query(
            `SELECT 1 FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock' AND query LIKE $1`,
            [`TRUNCATE staging.${table}%`],
          );
          return rows.length > 0;
        }),
      );
      await during();
    } finally {
      await lock.query('COMMIT');
    }
    return answer;
  });
}

test('a symlink leading out of DATA_DIR is not followed, and no file content is shown', { timeout: 120_000 }, async () => {
  const outside = path.join(root, 'outside');
  await mkdir(outside, { recursive: true });
  const shadow = path.join(outside, 'shadow');
  await writeFile(shadow, 'root:*:19000:0:99999:7:::\ndaemon:$6$salt$hash:19000:0:99999:7:::\n');
  const message = 'users.csv: is a symbolic link to a file outside the data directory, which is not followed';

  const direct = await set({});
  await rm(path.join(direct, 'users.csv'));
  await symlink(shadow, path.join(direct, 'users.csv'));
  const first = await refused(direct, message);

  // Through a second link that is itself inside DATA_DIR, relative this time.
  const chained = await set({});
  await rm(path.join(chained, 'users.csv'));
  await symlink(path.relative(chained, shadow), path.join(chained, 'inner.csv'));
  await symlink('inner.csv', path.join(chained, 'users.csv'));
  const second = await refused(chained, message);
  for (const seen of [first, second]) {
    for (const text of [seen.answer.text, JSON.stringify(seen.run), seen.log]) {
      assert.doesNotMatch(text, /root:|daemon|\$6\$/, 'nothing of the file outside is shown');
      assert.ok(!text.includes(root), 'no server path is shown');
    }
  }

  // A symlink that stays inside DATA_DIR is followed.
  const inside = await set({ users: [USERS_HEADER, ['1', 'Linked', 'l@x', '2023-01-01']] });
  await mkdir(path.join(inside, 'sub'));
  await rename(path.join(inside, 'users.csv'), path.join(inside, 'sub', 'users.csv'));
  await symlink(path.join('sub', 'users.csv'), path.join(inside, 'users.csv'));
  const linked = await post(inside);
  assert.equal(linked.answer.status, 200, linked.answer.text);
  assert.deepEqual(
    JSON.parse(published).users.map((u: { name: string }) => u.name),
    ['Linked'],
  );

  // The same content as a real file in DATA_DIR: its header is wrong, and only a short, escaped
  // prefix of that header line is shown, never the lines after it.
  const copied = await set({ users: await readFile(shadow, 'utf8') });
  const wrong = await refused(
    copied,
    'users.csv, line 1: missing required columns "user_id", "name", "email", "signup_date" (the header has: root:*:19000:0:99999:7:::)',
  );
  assert.doesNotMatch(wrong.answer.text + wrong.log, /daemon|\$6\$/);
});

test('a FIFO swapped in for a checked file is never opened (no hang); a FIFO itself is refused at once', { timeout: 120_000 }, async () => {
  const dir = await set({ users: [USERS_HEADER, ['1', 'Checked', 'c@x', '2023-01-01']] });
  const fifo = path.join(root, 'fifo');
  const swapped = await post(dir, {
    table: 'users',
    during: async () => {
      await exec('mkfifo', [fifo]);
      await rename(fifo, path.join(dir, 'users.csv'));
    },
  });
  // The run reads the file it opened and checked, not what now has its name.
  assert.equal(swapped.answer.status, 200, swapped.answer.text);
  assert.deepEqual(
    JSON.parse(published).users.map((u: { name: string }) => u.name),
    ['Checked'],
  );

  assert.ok((await stat(path.join(dir, 'users.csv'))).isFIFO());
  const started = performance.now();
  await refused(dir, 'users.csv: is not a regular file');
  assert.ok(performance.now() - started < 10_000, 'answered without waiting on the FIFO');
});

test('a file that grows or changes while it is read fails the run; no half-written line is loaded', { timeout: 120_000 }, async () => {
  const experiments = [EXPERIMENTS_HEADER, ['1', '1', '1', '10'], ['2', '1', '1', '20']];
  const grows = await set({ experiments });
  const file = path.join(grows, 'user_experiments.csv');
  const size = (await stat(file)).size;
  const half = '\r\n3,\t1,\t1,\t1'; // a writer midway through "…,\t1500\r\n"
  await refused(
    grows,
    `user_experiments.csv: the file changed while it was being read (it grew from ${size} to ${size + half.length} bytes); nothing was loaded: run again once it is complete`,
    { table: 'experiments', during: () => appendFile(file, half) },
  );

  const rewritten = await set({ experiments });
  const same = path.join(rewritten, 'user_experiments.csv');
  const text = await readFile(same, 'utf8');
  await refused(
    rewritten,
    'user_experiments.csv: the file changed while it was being read (it was modified); nothing was loaded: run again once it is complete',
    {
      table: 'experiments',
      during: async () => {
        // Same size, new content: only the modification time tells (1.1 s: coarse file systems too).
        await new Promise((resolve) => setTimeout(resolve, 1100));
        await writeFile(same, text.replace('20', '99'));
      },
    },
  );

  const shrinks = await set({ experiments });
  await refused(shrinks, /^user_experiments\.csv: the file changed while it was being read \(it shrank from \d+ to \d+ bytes\)/, {
    table: 'experiments',
    during: () => writeFile(path.join(shrinks, 'user_experiments.csv'), text.slice(0, -5)),
  });
});

test('messages stay short: a huge header is named, never copied into the answer, the run or the log', { timeout: 120_000 }, async () => {
  const huge = await set({ users: `user_id,\tname,\tsignup_date,\t${'x'.repeat(1_900_000)}\r\n1,\tA,\t2023-01-01,\tx` });
  const first = await refused(huge, 'users.csv, line 1: the header line is longer than 1048576 bytes');
  assert.ok(first.log.length < 2000, `${first.log.length} characters logged`);

  // Under the record limit but far beyond any sane message: a short prefix of the header only.
  const columns = [...USERS_HEADER.filter((c) => c !== 'email'), ...Array.from({ length: 60_000 }, (_, i) => `c${i}`)];
  const wide = await set({ users: `${columns.join(',\t')}\r\n1` });
  const second = await refused(
    wide,
    /^users\.csv, line 1: missing required column "email" \(the header has: user_id, name, signup_date, c0, c1, .*…\)$/,
  );
  assert.ok(second.answer.body.error.length <= 500, `${second.answer.body.error.length} characters`);
  assert.ok(second.log.length < 2000, `${second.log.length} characters logged`);
});

test(
  'a header with a line break and terminal escapes cannot forge a log line, and names the line it starts on',
  { timeout: 120_000 },
  async () => {
    const forged = `${new Date().toISOString()} run 999999: ok`;
    const users = `"user_id\n${forged}\u001b[1A\u001b[2K\u202e",\tname,\temail,\tsignup_date\r\n1,\tAnn,\ta@x,\t2023-01-01`;
    const { answer, log } = await refused(
      await set({ users }),
      /^users\.csv, line 1: missing required column "user_id" \(the header has: user_id\\n\S+ run 999999: ok\\x1b\[1a\\x1b\[2k\\u202e, name, email, signup_date\)$/,
    );
    assert.doesNotMatch(answer.body.error, /[\u0000-\u001f\u007f-\u009f\u202e]/, 'no control characters in the answer');
    assert.doesNotMatch(log, /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u202e]/, 'no control characters in the log but its line ends');
    // Every line that mentions the forged text is one whole JSON event: the run's failure.
    for (const line of log.split('\n').filter((l) => l.includes('999999'))) {
      assert.match(JSON.parse(line).msg, /^run \d+ failed: users\.csv, line 1: /, `no forged line: ${line}`);
    }
  },
);

test('CR-only (old Mac) line ends are refused with a message that says so, not a row of data', { timeout: 120_000 }, async () => {
  const users = 'user_id,name,email,signup_date\r1,Ann,ann@private.example,2023-01-01\r2,Bob,bob@private.example,2023-01-02';
  const { answer, log } = await refused(
    await set({ users }),
    'users.csv: the file uses CR-only (old Mac) line ends; save it with LF or CRLF line ends',
  );
  assert.doesNotMatch(answer.text + log, /private\.example/);
});

// Last: it stops the service.
test('SIGTERM ends the service in bounded time while a run is stuck loading', { timeout: 120_000 }, async () => {
  await useSet(DATA, await set({}));
  let stopped: Awaited<ReturnType<typeof stopService>> | undefined;
  const answer = await whileLoadWaits(
    'users',
    () => call(service.base, 'POST', '/data', { timeoutMs: 30_000 }),
    async () => {
      stopped = await stopService(service, 'SIGTERM', 30_000);
    },
  ).catch((error: Error) => error);
  assert.ok(stopped, 'the service was stopped');
  assert.equal(stopped.code, 0, service.output());
  assert.ok(stopped.ms < 15_000, `exited in ${stopped.ms} ms`);
  assert.ok(!(answer instanceof Error), `the POST was answered: ${answer}`);
  assert.equal(answer.status, 503, answer.text);
  assert.equal(answer.body.error, 'the run was cancelled: the service is shutting down');
});

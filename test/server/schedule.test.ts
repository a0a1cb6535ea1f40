// SCHEDULE through the real service process: runs start by themselves on the pattern, are counted
// in /metrics like POST /data's, and a pattern croner cannot read stops start-up with one line.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CHALLENGE_DIR, testDatabase } from '../helpers.js';
import { sleep, startService, startServiceToFail, stopService } from '../service.js';

test('SCHEDULE runs the ETL on DATA_DIR by itself, one run at a time, counted in /metrics', async () => {
  const database = await testDatabase();
  try {
    // Every 2 s (croner's optional seconds field): faster than a run on this machine, so ticks
    // during a run must be skipped rather than start a second one.
    const service = await startService(
      { DATABASE_URL: database.url, DATA_DIR: CHALLENGE_DIR, SCHEDULE: '*/2 * * * * *' },
      { timeoutMs: 60_000 },
    );
    try {
      assert.match(service.output(), /runs the ETL on the schedule \\"\*\/2 \* \* \* \* \*\\"; the next at \d{4}-/);
      let runs: { run_id: number; status: string; source: string }[] = [];
      for (let waited = 0; waited < 90_000 && runs.filter((r) => r.status === 'succeeded').length < 2; waited += 500) {
        await sleep(500);
        runs = ((await (await fetch(`${service.base}/runs`)).json()) as { runs: typeof runs }).runs;
      }
      const succeeded = runs.filter((r) => r.status === 'succeeded');
      assert.ok(succeeded.length >= 2, JSON.stringify(runs));
      assert.ok(succeeded.every((r) => r.source === 'data_dir'));
      assert.ok(
        runs.every((r) => r.status !== 'failed'),
        'no tick started a run while another ran',
      );
      const data = (await (await fetch(`${service.base}/data`)).json()) as { users: unknown[] };
      assert.equal(data.users.length, 10, "the challenge's users, published by a scheduled run");
      // The run record commits a moment before the process counts the run, so /runs can show a
      // success that /metrics counts a few milliseconds later.
      let metrics = '';
      let counted = 0;
      for (let waited = 0; waited < 10_000 && counted < 2; waited += 100) {
        metrics = await (await fetch(`${service.base}/metrics`)).text();
        counted = Number(/^etl_runs_total\{outcome="succeeded"\} (\d+)$/m.exec(metrics)?.[1]);
        if (counted < 2) await sleep(100);
      }
      assert.ok(counted >= 2, metrics);
    } finally {
      assert.equal((await stopService(service)).code, 0, service.output());
    }
  } finally {
    await database.close();
  }
});

test('a SCHEDULE croner cannot read: one line, exit code 1', async () => {
  const failed = await startServiceToFail({ DATABASE_URL: 'postgres://nobody@127.0.0.1:1/none', SCHEDULE: 'every night' });
  assert.equal(failed.code, 1, failed.output);
  const errors = failed.output
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as { level: string; msg: string })
    .filter((e) => e.level === 'error');
  assert.equal(errors.length, 1, failed.output);
  assert.match(errors[0]!.msg, /^SCHEDULE must be a cron pattern such as "0 3 \* \* \*" \(every day at 03:00\), got "every night": /);
  assert.doesNotMatch(failed.output, /\bat .*\.(ts|js):\d+/, 'no stack trace');
});

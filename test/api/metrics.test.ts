// GET /metrics: scraped after runs, checked against the run records.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createApp } from '../../src/api/app.js';
import type { DbHandle } from '../../src/db/connect.js';
import { transformSteps } from '../../src/run/transform.js';
import { SAMPLE_DIR, dataDir, options, removeDir, testDatabase } from '../helpers.js';

// Each test scrapes an app of its own (a process's metrics start at zero), so none counts another's
// requests or runs; the one that must see no run at all has a database of its own too.
let database: DbHandle;

before(async () => {
  database = await testDatabase();
});
after(() => database.close());

/** The samples of a scrape: `name{labels}` -> value. */
async function scrape(target: ReturnType<typeof createApp>): Promise<Map<string, number>> {
  const response = await target.request('/metrics');
  assert.equal(response.status, 200);
  assert.match(response.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
  const samples = new Map<string, number>();
  for (const line of (await response.text()).split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const at = line.lastIndexOf(' ');
    samples.set(line.slice(0, at), Number(line.slice(at + 1)));
  }
  return samples;
}

test('before any run: runs at zero, nothing in progress, no last publish, process metrics present', async (t) => {
  const own = await testDatabase();
  t.after(() => own.close());
  const m = await scrape(createApp(own, options(SAMPLE_DIR)));
  for (const outcome of ['succeeded', 'failed_input', 'failed_unavailable', 'failed_internal']) {
    assert.equal(m.get(`etl_runs_total{outcome="${outcome}"}`), 0, outcome);
  }
  assert.equal(m.get('etl_run_in_progress'), 0);
  assert.equal(m.get('etl_last_success_timestamp_seconds'), 0, 'no publish yet');
  assert.ok(m.get('process_cpu_user_seconds_total')! >= 0);
  assert.ok(m.get('nodejs_heap_size_used_bytes')! > 0);
  assert.ok(m.get('process_start_time_seconds')! > 0);
});

test('after a run, the ETL metrics match its run record', async () => {
  const app = createApp(database, options(SAMPLE_DIR));
  const sent = performance.now();
  const posted = await app.request('/data', { method: 'POST' });
  const answeredSeconds = (performance.now() - sent) / 1000;
  assert.equal(posted.status, 200);
  const run = (await posted.json()) as any;
  const m = await scrape(app);
  assert.equal(m.get('etl_runs_total{outcome="succeeded"}'), 1);
  assert.equal(m.get('etl_run_in_progress'), 0);
  assert.equal(m.get('etl_last_run_id'), run.run_id);
  assert.equal(m.get('etl_last_run_succeeded'), 1);
  assert.equal(m.get('etl_last_run_duration_seconds'), run.duration_ms / 1000);
  assert.equal(m.get('etl_last_success_timestamp_seconds'), Date.parse(run.finished_at) / 1000);
  for (const [file, counts] of Object.entries<any>(run.files)) {
    assert.equal(m.get(`etl_last_run_rows_read{file="${file}"}`), counts.rows_read, file);
    assert.equal(m.get(`etl_last_run_rows_loaded{file="${file}"}`), counts.rows_loaded, file);
    assert.equal(m.get(`etl_last_run_rows_rejected{file="${file}"}`), counts.rows_rejected, file);
  }
  assert.equal(m.get('etl_last_run_rows_loaded{file="user_experiments.csv"}'), 21);

  // Every step the run went through, and only those, has a duration, and they fit in the request
  // that ran them. (Not in the run record's duration_ms: the last step lasts until the run has
  // committed and retired older runs, after its finished_at is set.)
  const steps = [...m].filter(([key]) => key.startsWith('etl_last_run_step_duration_seconds{'));
  const names = steps.map(([key]) => /step="([^"]+)"/.exec(key)![1]);
  const expected = ['checking files', 'loading', ...(await transformSteps()).map((s) => s.name)];
  assert.deepEqual([...names].sort(), [...expected].sort());
  for (const [key, seconds] of steps) assert.ok(seconds > 0, `${key} took ${seconds} s`);
  const total = steps.reduce((sum, [, seconds]) => sum + seconds, 0);
  assert.ok(total <= answeredSeconds, `steps ${total} s within the ${answeredSeconds} s POST /data took`);

  // This request and the POST are in the HTTP histogram, by route and status.
  assert.equal(m.get('http_request_duration_seconds_count{method="POST",route="/data",status="200"}'), 1);
  assert.ok(m.get('http_request_duration_seconds_sum{method="POST",route="/data",status="200"}')! > 0);
  assert.equal(m.get('http_request_duration_seconds_bucket{le="+Inf",method="POST",route="/data",status="200"}'), 1);
});

test('a failed run counts by outcome and replaces the last run; the last publish stays', async () => {
  const app = createApp(database, options(SAMPLE_DIR));
  assert.equal((await app.request('/data', { method: 'POST' })).status, 200);
  const earlier = await scrape(app);
  assert.ok(earlier.get('etl_last_success_timestamp_seconds')! > 0, 'a publish to keep');
  // A new app, as a restarted service would have, runs on a file with too many rejects.
  const bad = await dataDir({ users: 'user_id,name,email,signup_date\r\nx,A,a,2023-01-01\r\ny,B,b,2023-01-01' });
  const broken = createApp(database, options(bad));
  const answer = await broken.request('/data', { method: 'POST' });
  assert.equal(answer.status, 422);
  const { run_id } = (await answer.json()) as any;
  const run = (await (await app.request(`/runs/${run_id}`)).json()) as any;
  const m = await scrape(broken);
  assert.equal(m.get('etl_runs_total{outcome="failed_input"}'), 1);
  assert.equal(m.get('etl_runs_total{outcome="succeeded"}'), 0);
  assert.equal(m.get('etl_last_run_id'), run_id);
  assert.equal(m.get('etl_last_run_succeeded'), 0);
  assert.equal(m.get('etl_last_run_duration_seconds'), run.duration_ms / 1000);
  assert.equal(m.get('etl_last_run_rows_read{file="users.csv"}'), 2);
  assert.equal(m.get('etl_last_run_rows_rejected{file="users.csv"}'), run.files['users.csv'].rows_rejected);
  // A new app (a restarted service) learns the last publish from the database.
  assert.equal(m.get('etl_last_success_timestamp_seconds'), earlier.get('etl_last_success_timestamp_seconds'));
  await removeDir(bad);
});

test('unknown paths share one route label, so clients cannot grow the metrics', async () => {
  const app = createApp(database, options(SAMPLE_DIR));
  for (const url of ['/nope', '/nope/1', '/x.php']) await app.request(url);
  const m = await scrape(app);
  assert.equal(m.get('http_request_duration_seconds_count{method="GET",route="unmatched",status="404"}'), 3);
  assert.equal(m.get('http_request_duration_seconds_count{method="GET",route="/data/users/:id",status="400"}'), undefined);
  await app.request('/data/users/abc');
  assert.equal((await scrape(app)).get('http_request_duration_seconds_count{method="GET",route="/data/users/:id",status="400"}'), 1);
});

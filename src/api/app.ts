import os from 'node:os';
import path from 'node:path';
import { OpenAPIHono } from '@hono/zod-openapi';
import type { DbHandle } from '../db/connect.js';
import { dashboard } from '../dashboard/routes.js';
import type { RunRecord } from '../read/runs.js';
import { getUserDetail, listUsers, type UserReads } from '../read/users.js';
import { DEFAULT_MAX_UPLOAD_BYTES, DEFAULT_UPLOAD_MIN_RATE } from '../support/config.js';
import { databaseUnavailable } from '../support/errors.js';
import { log, printable } from '../support/log.js';
import { requireToken } from './auth.js';
import type { ApiContext, ApiOptions, Env } from './context.js';
import { docsHeaders } from './docs.js';
import { Metrics } from './metrics.js';
import { readIndexesOnDemand } from '../run/read-indexes.js';
import { scheduleRuns } from './schedule.js';
import { headAsGet, limitBodies, logRequests, requestIds } from './middleware.js';
import { checkHost, checkOrigin } from './origin.js';
import { registerData } from './routes/data/data.handlers.js';
import { registerDocs } from './routes/docs/docs.handlers.js';
import { registerHealth } from './routes/health/health.handlers.js';
import { registerMetrics } from './routes/metrics/metrics.handlers.js';
import { registerRuns } from './routes/runs/runs.handlers.js';
import { busy, StreamGate } from './streams.js';
import type { UploadLimits } from './upload.js';

/**
 * The HTTP API: thin routes over the pipeline and the read queries, each defined with its schemas
 * (which validate its parameters and make GET /openapi.json), by resource in src/api/routes/; here
 * the middleware in order, the 405s, notFound and onError. Runs use the handle's run pool; reads
 * use `database.readers`, so no reader can take a run's connections.
 */
export function createApp(database: DbHandle, options: ApiOptions): OpenAPIHono<Env> {
  const { readers } = database;
  const uploads: UploadLimits = {
    maxUploadBytes: options.maxUploadBytes ?? DEFAULT_MAX_UPLOAD_BYTES,
    uploadTmpDir: options.uploadTmpDir ?? os.tmpdir(),
    uploadMinBytesPerSecond: options.uploadMinBytesPerSecond ?? DEFAULT_UPLOAD_MIN_RATE.uploadMinBytesPerSecond,
    uploadRateWindowMs: options.uploadRateWindowMs ?? DEFAULT_UPLOAD_MIN_RATE.uploadRateWindowMs,
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
  app.use(requestIds());
  app.use(logRequests(metrics));
  // Who may be answered, before anything else looks at the request or reads its body: the Host a
  // browser sent (DNS rebinding), then where a state-changing request comes from (CSRF), then the token.
  app.use(checkHost(options));
  app.use(checkOrigin(options));
  app.use(requireToken(options));
  app.use(limitBodies());
  // The docs page's CSP and framing headers (the dashboard's pages set their own).
  app.use('/docs', docsHeaders);
  app.use(headAsGet(gate));

  // By resource (src/api/routes/); this order is the OpenAPI document's. The docs come last: the
  // document describes the routes registered before it is first asked for.
  // The features page's reads; its indexes are built when that page is first read after a publish
  // (why: src/run/read-indexes.ts), so each read says which run it read.
  const readIndexes = readIndexesOnDemand(database, options.log ?? log, options.signal);
  const users: UserReads = {
    list: async (query) => {
      const answer = await listUsers(readers.db, query);
      void readIndexes(answer.run_id);
      return answer;
    },
    detail: async (userId) => {
      const detail = await getUserDetail(readers.db, userId);
      void readIndexes(detail?.run_id ?? null);
      return detail;
    },
  };
  const context: ApiContext = { database, readers, options, uploads, gate, metrics, hidePaths, publicRun, users };
  registerData(app, context);
  registerRuns(app, context);
  registerHealth(app, context);
  registerMetrics(app, context);
  registerDocs(app);
  if (options.schedule) scheduleRuns(context, options.schedule, options.signal);

  // The dashboard's HTML pages (not API: they are not in the OpenAPI document), over the same reads.
  // The page names DATA_DIR as the operator knows it (as the start-up banner does): relative to the
  // service's working folder when inside it, else as configured. Unlike an error message, saying
  // which folder a run reads is the point here.
  const relative = path.relative(process.cwd(), options.dataDir);
  const dataDir = relative === '' ? '.' : relative.startsWith('..') || path.isAbsolute(relative) ? options.dataDir : `./${relative}`;
  app.route('/', dashboard({ db: readers.db, publicRun, users, settings: { dataDir, maxUploadBytes: uploads.maxUploadBytes } }));

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
    app.all(path, (c) =>
      c.json({ error: `${c.req.method} is not allowed on ${printable(c.req.path, 200)}; use ${allow}` }, 405, { Allow: allow }),
    );
  }

  app.notFound((c) => c.json({ error: `no route for ${c.req.method} ${printable(c.req.path, 200)}` }, 404));
  app.onError((error, c) => {
    log(`${c.req.method} ${c.req.path} failed: ${error.message}`, { request_id: c.get('requestId') }, 'error');
    const unavailable = databaseUnavailable(error)?.reason;
    if (unavailable) return busy(c, unavailable);
    return c.json({ error: 'internal error' }, 500);
  });
  return app;
}

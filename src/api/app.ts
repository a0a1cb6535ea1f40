import os from 'node:os';
import { Hono, type Context } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import type { HttpBindings } from '@hono/node-server';
import { sql } from 'kysely';
import { DEFAULT_MAX_UPLOAD_BYTES } from '../config.js';
import type { DbHandle } from '../db/handle.js';
import { RunInProgressError } from '../errors.js';
import { log } from '../log.js';
import { featuresJson, getUserFeatures } from '../features.js';
import { RunFailedError, runEtl, type EtlOptions } from '../pipeline.js';
import { getRun, listRuns, rejectsJson, type RunRecord } from '../runs.js';
import { busy, RETRY_AFTER_SECONDS, StreamGate } from './streams.js';
import { requireToken, type TokenOptions } from './auth.js';
import { isUpload, openUpload, type UploadLimits } from './upload.js';

const ID = /^[1-9][0-9]{0,15}$/;
const JSON_TYPE = 'application/json';

type Env = { Bindings: Partial<HttpBindings> };

/**
 * The HTTP API: thin routes over the pipeline and the read queries. JSON in every answer. Runs use
 * the handle's run pool; reads use `database.readers`, so no reader can take a run's connections.
 */
export function createApp(database: DbHandle, options: EtlOptions & TokenOptions & Partial<UploadLimits>): Hono<Env> {
  const { readers } = database;
  const uploads: UploadLimits = {
    maxUploadBytes: options.maxUploadBytes ?? DEFAULT_MAX_UPLOAD_BYTES,
    uploadTmpDir: options.uploadTmpDir ?? os.tmpdir(),
  };
  const gate = new StreamGate(readers.limits.maxStreams, readers.limits.streamIdleTimeoutMs, options.signal);
  // Clients see DATA_DIR by name, not the server's absolute path (the log keeps the full path).
  // (A DATA_DIR of "/" is left alone: every slash in every message would be replaced.)
  const hidePaths = (text: string) => (options.dataDir.length > 1 ? text.split(options.dataDir).join('DATA_DIR') : text);
  const publicRun = (run: RunRecord): RunRecord => (run.error ? { ...run, error: hidePaths(run.error) } : run);

  const app = new Hono<Env>();
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

  app.post('/data', async (c) => {
    // With a multipart body: the files are that upload's parts, received once the run holds the lock.
    const upload = isUpload(c) ? openUpload(c, uploads) : undefined;
    // An upload refused before it is read is not a run; one that failed is, and the rest of its
    // body is left unread: the connection is closed after the answer.
    if (upload instanceof Error) return c.json({ error: upload.message }, upload.status, { Connection: 'close' });
    const close: Record<string, string> = upload ? { Connection: 'close' } : {};
    try {
      return c.json(publicRun(await runEtl(database, upload ? { ...options, upload } : options)));
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

  app.get('/data', async (c) => {
    const after = intParam(c.req.query('after'), undefined, 0, Number.MAX_SAFE_INTEGER);
    const limit = intParam(c.req.query('limit'), undefined, 1, 100_000);
    if (after === null || limit === null) {
      return c.json({ error: 'limit must be 1..100000 and after a user_id (a non-negative integer)' }, 400);
    }
    return gate.respond(c, () => featuresJson(readers.streams, { after, limit }), JSON_TYPE);
  });

  app.get('/data/users/:id', async (c) => {
    const id = parseId(c, 'id');
    if (id === null) return badId(c);
    const user = await getUserFeatures(readers.db, id);
    return user ? c.json(user) : c.json({ error: `no user ${id} in the published features` }, 404);
  });

  app.get('/runs', async (c) => c.json({ runs: (await listRuns(readers.db)).map(publicRun) }));

  app.get('/runs/:id', async (c) => {
    const id = parseId(c, 'id');
    if (id === null) return badId(c);
    const run = await getRun(readers.db, id);
    return run ? c.json(publicRun(run)) : c.json({ error: `no run ${id}` }, 404);
  });

  app.get('/runs/:id/rejects', async (c) => {
    const id = parseId(c, 'id');
    if (id === null) return badId(c);
    const limit = intParam(c.req.query('limit'), 1000, 1, 10_000);
    const offset = intParam(c.req.query('offset'), 0, 0, Number.MAX_SAFE_INTEGER);
    if (limit === null || offset === null) {
      return c.json({ error: 'limit must be 1..10000 and offset a non-negative integer' }, 400);
    }
    if (!(await getRun(readers.db, id))) return c.json({ error: `no run ${id}` }, 404);
    return gate.respond(c, () => rejectsJson(readers.streams, id, { limit, offset }), JSON_TYPE);
  });

  app.get('/health', async (c) => {
    try {
      await sql`SELECT 1`.execute(readers.db);
      return c.json({ status: 'ok' });
    } catch {
      return c.json({ status: 'unavailable', error: 'the database does not answer' }, 503, {
        'Retry-After': String(RETRY_AFTER_SECONDS),
      });
    }
  });

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
    app.all(path, (c) => c.json({ error: `${c.req.method} is not allowed on ${c.req.path}; use ${allow}` }, 405, { Allow: allow }));
  }

  app.notFound((c) => c.json({ error: `no route for ${c.req.method} ${c.req.path}` }, 404));
  app.onError((error, c) => {
    log(`${c.req.method} ${c.req.path} failed: ${error.message}`);
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

function parseId(c: Context, name: string): number | null {
  const text = c.req.param(name) ?? '';
  return ID.test(text) && Number(text) <= Number.MAX_SAFE_INTEGER ? Number(text) : null;
}

function badId(c: Context) {
  return c.json({ error: `"${c.req.param('id')?.slice(0, 40)}" is not a valid id (a positive integer)` }, 400);
}

/** An integer query parameter in [min, max]: `fallback` when absent, null when invalid. */
function intParam<T extends number | undefined>(text: string | undefined, fallback: T, min: number, max: number): number | T | null {
  if (text === undefined) return fallback;
  if (!/^[0-9]{1,16}$/.test(text)) return null;
  const value = Number(text);
  return value >= min && value <= max ? value : null;
}

import { Hono, type Context } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { sql } from 'kysely';
import type { DbHandle } from '../db/handle.js';
import { RunInProgressError } from '../errors.js';
import { log } from '../log.js';
import { featuresJson, getUserFeatures } from '../features.js';
import { RunFailedError, runEtl, type EtlOptions } from '../pipeline.js';
import { getRun, listRejects, listRuns } from '../runs.js';

const ID = /^[1-9][0-9]{0,15}$/;

/** The HTTP API: thin routes over the pipeline and the read queries. JSON in every answer. */
export function createApp(database: DbHandle, options: EtlOptions): Hono {
  const { db } = database;
  const app = new Hono();
  app.use(bodyLimit({ maxSize: 16 * 1024, onError: (c) => c.json({ error: 'request body too large' }, 413) }));

  app.post('/data', async (c) => {
    try {
      return c.json(await runEtl(database, options));
    } catch (error) {
      if (error instanceof RunInProgressError) return c.json({ error: error.message, run_id: error.runId }, 409);
      if (error instanceof RunFailedError) {
        const status = { input: 422, unavailable: 503, internal: 500 } as const;
        return c.json({ error: error.message, run_id: error.runId }, status[error.kind]);
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
    const chunks = featuresJson(database, { after, limit });
    // The first chunk is read before answering, so a database failure is a clean error response.
    const first = await chunks.next();
    const encoder = new TextEncoder();
    const body = new ReadableStream<Uint8Array>({
      start(controller) {
        if (!first.done) controller.enqueue(encoder.encode(first.value));
      },
      async pull(controller) {
        const next = await chunks.next();
        if (next.done) controller.close();
        else controller.enqueue(encoder.encode(next.value));
      },
      async cancel() {
        await chunks.return(undefined);
      },
    });
    return c.body(body, 200, { 'content-type': 'application/json' });
  });

  app.get('/data/users/:id', async (c) => {
    const id = parseId(c, 'id');
    if (id === null) return badId(c);
    const user = await getUserFeatures(database, id);
    return user ? c.json(user) : c.json({ error: `no user ${id} in the published features` }, 404);
  });

  app.get('/runs', async (c) => c.json({ runs: await listRuns(db) }));

  app.get('/runs/:id', async (c) => {
    const id = parseId(c, 'id');
    if (id === null) return badId(c);
    const run = await getRun(db, id);
    return run ? c.json(run) : c.json({ error: `no run ${id}` }, 404);
  });

  app.get('/runs/:id/rejects', async (c) => {
    const id = parseId(c, 'id');
    if (id === null) return badId(c);
    const limit = intParam(c.req.query('limit'), 1000, 1, 10_000);
    const offset = intParam(c.req.query('offset'), 0, 0, Number.MAX_SAFE_INTEGER);
    if (limit === null || offset === null) {
      return c.json({ error: 'limit must be 1..10000 and offset a non-negative integer' }, 400);
    }
    if (!(await getRun(db, id))) return c.json({ error: `no run ${id}` }, 404);
    const rejected = await listRejects(db, id, { limit, offset });
    return c.json({ run_id: id, limit, offset, rejected });
  });

  app.get('/health', async (c) => {
    try {
      await sql`SELECT 1`.execute(db);
      return c.json({ status: 'ok' });
    } catch {
      return c.json({ status: 'unavailable', error: 'the database does not answer' }, 503);
    }
  });

  app.notFound((c) => c.json({ error: `no route for ${c.req.method} ${c.req.path}` }, 404));
  app.onError((error, c) => {
    log(`${c.req.method} ${c.req.path} failed: ${error.message}`);
    return c.json({ error: 'internal error' }, 500);
  });
  return app;
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

import type { OpenAPIHono } from '@hono/zod-openapi';
import type { Context } from 'hono';
import { accepts } from 'hono/accepts';
import { diffCsv, diffJson, DiffUnavailableError, type DiffRequest } from '../../../read/diff.js';
import { getRun, listRuns, rejectReasons, rejectsCsv, rejectsJson } from '../../../read/runs.js';
import type { ApiContext, Env } from '../../context.js';
import { CSV_TYPE, JSON_TYPE, untyped } from '../../responses.js';
import { routes } from './runs.routes.js';

export function registerRuns(app: OpenAPIHono<Env>, { readers, gate, publicRun }: ApiContext): void {
  app.openapi(routes.runs, async (c) => c.json({ runs: (await listRuns(readers.db)).map(publicRun) }, 200));

  app.openapi(routes.run, async (c) => {
    const { id } = c.req.valid('param');
    const run = await getRun(readers.db, id);
    return run ? c.json(publicRun(run), 200) : c.json({ error: `no run ${id}` }, 404);
  });

  app.openapi(routes.rejects, async (c) => {
    const { id } = c.req.valid('param');
    const { limit = 1000, offset = 0, file, reason } = c.req.valid('query');
    if (!(await getRun(readers.db, id))) return c.json({ error: `no run ${id}` }, 404);
    return untyped(gate.respond(c, () => rejectsJson(readers.streams, id, { limit, offset, file, reason }), JSON_TYPE));
  });

  app.openapi(routes.rejectReasons, async (c) => {
    const { id } = c.req.valid('param');
    if (!(await getRun(readers.db, id))) return c.json({ error: `no run ${id}` }, 404);
    return c.json({ run_id: id, reasons: await rejectReasons(readers.db, id) }, 200);
  });

  app.openapi(routes.rejectsCsv, async (c) => {
    const { id } = c.req.valid('param');
    const { file, reason, raw } = c.req.valid('query');
    if (!(await getRun(readers.db, id))) return c.json({ error: `no run ${id}` }, 404);
    return untyped(gate.respond(c, () => rejectsCsv(readers.streams, id, { file, reason }, { raw: raw === '1' }), CSV_TYPE));
  });

  /** A diff streamed by `open`, or 404 when the runs cannot be compared (known once its snapshot is read). */
  const diff = async (c: Context<Env>, open: () => AsyncGenerator<string>, type: string) => {
    try {
      return await gate.respond(c, open, type);
    } catch (error) {
      if (error instanceof DiffUnavailableError) return c.json({ error: error.message }, 404);
      throw error;
    }
  };
  const csv = (c: Context<Env>, request: DiffRequest, raw: boolean) =>
    diff(
      c,
      () =>
        diffCsv(readers.streams, request, {
          raw,
          onSummary: (s) => {
            c.header('X-Against', String(s.against));
            c.header('X-Users-Added', String(s.users.added));
            c.header('X-Users-Removed', String(s.users.removed));
            c.header('X-Users-Changed', String(s.users.changed));
          },
        }),
      CSV_TYPE,
    );

  app.openapi(routes.diff, async (c) => {
    const { id } = c.req.valid('param');
    const { raw, ...query } = c.req.valid('query');
    const request = { runId: id, ...query };
    if (accepts(c, { header: 'Accept', supports: [JSON_TYPE, 'text/csv'], default: JSON_TYPE }) === 'text/csv')
      return untyped(csv(c, request, raw === '1'));
    return untyped(diff(c, () => diffJson(readers.streams, request), JSON_TYPE));
  });

  app.openapi(routes.diffCsv, async (c) => {
    const { raw, ...query } = c.req.valid('query');
    return untyped(csv(c, { runId: c.req.valid('param').id, ...query }, raw === '1'));
  });
}

import type { OpenAPIHono } from '@hono/zod-openapi';
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
}

import type { z } from '@hono/zod-openapi';
import { Hono, type Context } from 'hono';
import type { Kysely } from 'kysely';
import { pageHeaders } from '../http/page-headers.js';
import { idParam, intQuery, reasonQuery, rejectFileQuery, usersQuery } from '../http/params.js';
import { SOURCES } from '../load/inputs.js';
import type { Database } from '../db/schema.js';
import { CursorError, type UserReads, type UsersQuery } from '../read/users.js';
import { MAX_ID } from '../load/rules.js';
import { getRun, listRejects, listRuns, rejectReasons, type RunRecord } from '../read/runs.js';
import { getSummary } from '../read/summary.js';
import { ASSETS } from './assets.js';
import { FEATURES_MAX_LIMIT, FeaturesPage } from './features-page.js';
import { MessagePage, type PageName } from './layout.js';
import { OverviewPage, type RunSettings } from './overview-page.js';
import { UserPage } from './user-page.js';
import { REJECTS_MAX_LIMIT, REJECTS_PAGE, RunPage } from './run-page.js';

/** How many runs the overview lists. */
const RUNS_SHOWN = 20;
const FEATURES_PAGE = 50;

export interface DashboardOptions {
  /** The API's short-read connections: the pages read what the API reads, through the same functions. */
  db: Kysely<Database>;
  /** A run as the API shows it (server paths in its error replaced by DATA_DIR). */
  publicRun: (run: RunRecord) => RunRecord;
  /** The features page's reads, the API's own (they also start the page's read indexes). */
  users: UserReads;
  /** What the overview says of where a run reads its files and how large an upload may be. */
  settings: RunSettings;
}

/**
 * The dashboard: server-rendered pages (hono/jsx) over the same domain functions as the API
 * routes, at `/` and under `/ui/`. Mounted on the API's app, so it shares its middleware (request
 * ids, logs, metrics, API_TOKEN). Its pages may load only what this service serves: the
 * Content-Security-Policy says so to the browser.
 */
export function dashboard({ db, publicRun, users, settings }: DashboardOptions): Hono {
  const app = new Hono();
  const headers = pageHeaders();
  app.use('/', headers);
  app.use('/ui/*', headers);

  app.get('/', async (c) => {
    const [runs, summary] = await Promise.all([listRuns(db, { limit: RUNS_SHOWN }), getSummary(db)]);
    return page(c, <OverviewPage runs={runs.map(publicRun)} summary={summary} settings={settings} />);
  });

  app.get('/ui/features', async (c) => {
    // The API's own parameters and messages (GET /data/users); an empty box is no search.
    const params = usersQuery(FEATURES_MAX_LIMIT, FEATURES_PAGE);
    const query: Record<string, unknown> = {};
    for (const name of ['sort', 'dir', 'q', 'limit', 'after', 'before'] as const) {
      const value = check(params[name], c.req.query(name) || undefined);
      if (value instanceof Error) return refused(c, 'features', value);
      query[name] = value;
    }
    const position = check(intQuery('pos', 1, MAX_ID, 1, ''), c.req.query('pos') || undefined);
    if (position instanceof Error) return refused(c, 'features', position);
    const wanted = query as unknown as UsersQuery;
    try {
      const answer = await users.list({ ...wanted, limit: wanted.limit ?? FEATURES_PAGE });
      const run = answer.run_id === null ? undefined : await getRun(db, answer.run_id);
      return page(
        c,
        <FeaturesPage
          view={{
            page: answer,
            experiments: run?.features.experiments ?? null,
            average: run?.features.average_experiments_per_user ?? null,
            limit: wanted.limit ?? FEATURES_PAGE,
            position,
          }}
        />,
      );
    } catch (error) {
      if (error instanceof CursorError) return refused(c, 'features', error);
      throw error;
    }
  });

  app.get('/ui/users/:id', async (c) => {
    const id = check(idParam('id', 1), c.req.param('id'));
    if (id instanceof Error) return refused(c, 'features', id);
    const detail = await users.detail(id);
    if (!detail)
      return page(
        c,
        <MessagePage title="No such user" page="features">{`There is no user ${id} in the published features.`}</MessagePage>,
        404,
      );
    return page(c, <UserPage detail={detail} />);
  });

  app.get('/ui/runs/:id', async (c) => {
    const id = check(idParam('id', 1), c.req.param('id'));
    if (id instanceof Error) return refused(c, 'run', id);
    const offset = check(intQuery('offset', 0, Number.MAX_SAFE_INTEGER, 0, ''), c.req.query('offset'));
    if (offset instanceof Error) return refused(c, 'run', offset);
    const limit = check(intQuery('limit', 1, REJECTS_MAX_LIMIT, REJECTS_PAGE, ''), c.req.query('limit'));
    if (limit instanceof Error) return refused(c, 'run', limit);
    // The filters: the API's own parameters and messages (an empty choice is no filter).
    const file = check(rejectFileQuery(SOURCES.map((s) => s.file)), c.req.query('file') || undefined);
    if (file instanceof Error) return refused(c, 'run', file);
    const reason = check(reasonQuery, c.req.query('reason') || undefined);
    if (reason instanceof Error) return refused(c, 'run', reason);
    const run = await getRun(db, id);
    if (!run) return page(c, <MessagePage title="No such run" page="run">{`There is no run ${id}.`}</MessagePage>, 404);
    // One row more than shown tells whether a next page exists.
    const view = { offset: offset ?? 0, limit: limit ?? REJECTS_PAGE, file, reason };
    const [rows, reasons] = await Promise.all([listRejects(db, id, { ...view, limit: view.limit + 1 }), rejectReasons(db, id)]);
    return page(
      c,
      <RunPage view={{ run: publicRun(run), rejects: rows.slice(0, view.limit), more: rows.length > view.limit, reasons, ...view }} />,
    );
  });

  for (const asset of Object.values(ASSETS)) {
    app.get(asset.path, (c) => c.body(asset.body, 200, { 'content-type': asset.type, 'cache-control': 'no-cache' }));
  }
  return app;
}

/** A query or path value checked by the API's own schema: its value, or an Error with the API's message. */
function check<S extends z.ZodType>(schema: S, value: string | undefined): z.output<S> | Error {
  const result = schema.safeParse(value);
  return result.success ? result.data : new Error(result.error.issues[0]?.message ?? 'invalid parameter');
}

const refused = (c: Context, name: PageName, error: Error) =>
  page(
    c,
    <MessagePage title="Not a valid address" page={name}>
      {error.message}
    </MessagePage>,
    400,
  );

async function page(c: Context, element: unknown, status: 200 | 400 | 404 = 200) {
  return c.html(`<!doctype html>${await element}`, status);
}

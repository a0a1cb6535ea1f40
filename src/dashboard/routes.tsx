import type { z } from '@hono/zod-openapi';
import { Hono, type Context } from 'hono';
import type { Kysely } from 'kysely';
import { pageHeaders } from '../http/page-headers.js';
import { idParam, intQuery, reasonQuery, rejectFileQuery } from '../http/params.js';
import { SOURCES } from '../load/inputs.js';
import type { Database } from '../db/schema.js';
import { readFeaturesPage } from '../read/features.js';
import { MAX_ID } from '../load/rules.js';
import { getRun, listRejects, listRuns, rejectReasons, type RunRecord } from '../read/runs.js';
import { getSummary } from '../read/summary.js';
import { ASSETS } from './assets.js';
import { FEATURES_MAX_LIMIT, FeaturesPage } from './features-page.js';
import { MessagePage, type PageName } from './layout.js';
import { OverviewPage, type RunSettings } from './overview-page.js';
import { REJECTS_MAX_LIMIT, REJECTS_PAGE, RunPage } from './run-page.js';

/** How many runs the overview lists. */
const RUNS_SHOWN = 20;
const FEATURES_PAGE = 50;

export interface DashboardOptions {
  /** The API's short-read connections: the pages read what the API reads, through the same functions. */
  db: Kysely<Database>;
  /** A run as the API shows it (server paths in its error replaced by DATA_DIR). */
  publicRun: (run: RunRecord) => RunRecord;
  /** What the overview says of where a run reads its files and how large an upload may be. */
  settings: RunSettings;
}

/**
 * The dashboard: server-rendered pages (hono/jsx) over the same domain functions as the API
 * routes, at `/` and under `/ui/`. Mounted on the API's app, so it shares its middleware (request
 * ids, logs, metrics, API_TOKEN). Its pages may load only what this service serves: the
 * Content-Security-Policy says so to the browser.
 */
export function dashboard({ db, publicRun, settings }: DashboardOptions): Hono {
  const app = new Hono();
  const headers = pageHeaders();
  app.use('/', headers);
  app.use('/ui/*', headers);

  app.get('/', async (c) => {
    const [runs, summary] = await Promise.all([listRuns(db, { limit: RUNS_SHOWN }), getSummary(db)]);
    return page(c, <OverviewPage runs={runs.map(publicRun)} summary={summary} settings={settings} />);
  });

  app.get('/ui/features', async (c) => {
    const limit = check(intQuery('limit', 1, FEATURES_MAX_LIMIT, FEATURES_PAGE, ''), c.req.query('limit'));
    if (limit instanceof Error) return refused(c, 'features', limit);
    const after = check(intQuery('after', 0, MAX_ID, 0, ''), c.req.query('after'));
    if (after instanceof Error) return refused(c, 'features', after);
    // The jump box: the page that starts at that user id (an empty box is no jump).
    const user = check(intQuery('user', 1, MAX_ID, 1, ''), c.req.query('user') || undefined);
    if (user instanceof Error) return refused(c, 'features', user);
    const wanted = { limit: limit ?? FEATURES_PAGE, after: user === undefined ? (after ?? 0) : user - 1 };
    // The page of GET /data?limit=&after=, with the same values, with one user more: whether it
    // exists tells whether there is a next page (the API's next_after cannot know when a page
    // ends exactly at the last user, and a Next link to an empty page would be a dead end).
    const answer = await readFeaturesPage(db, { ...wanted, limit: wanted.limit + 1 });
    const users = answer.users.slice(0, wanted.limit);
    const nextAfter = answer.users.length > wanted.limit ? users[users.length - 1]!.user_id : null;
    return page(
      c,
      <FeaturesPage view={{ run: answer.run, average: answer.average_experiments_per_user, users, nextAfter, user, ...wanted }} />,
    );
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

import type { OpenAPIHono } from '@hono/zod-openapi';
import type { Context } from 'hono';
import { accepts } from 'hono/accepts';
import { featuresCsv, featuresJson, getUserJson, type FeaturesPage } from '../../../read/features.js';
import { getRun } from '../../../read/runs.js';
import { getSummary } from '../../../read/summary.js';
import { CursorError } from '../../../read/users.js';
import { RunFailedError, runEtl } from '../../../run/pipeline.js';
import { RunInProgressError } from '../../../support/errors.js';
import type { ApiContext, Env } from '../../context.js';
import { CSV_TYPE, JSON_TYPE, untyped } from '../../responses.js';
import { RETRY_AFTER_SECONDS } from '../../streams.js';
import { isUpload, openUpload } from '../../upload.js';
import { routes } from './data.routes.js';

export function registerData(app: OpenAPIHono<Env>, { database, readers, options, uploads, gate, metrics, hidePaths, publicRun, users }: ApiContext): void {
  app.openapi(routes.runEtl, async (c) => {
    // With a multipart body: the files are that upload's parts, received once the run holds the lock.
    const upload = isUpload(c) ? openUpload(c, uploads) : undefined;
    // An upload refused before it is read is not a run; one that failed is, and the rest of its
    // body is left unread: the connection is closed after the answer.
    if (upload instanceof Error) return c.json({ error: upload.message }, upload.status, { Connection: 'close' });
    const close: Record<string, string> = upload ? { Connection: 'close' } : {};
    try {
      const listener = metrics.runListener((runId) => getRun(readers.db, runId));
      // Checked by forceQuery before the handler (400 unless 0 or 1).
      const force = c.req.query('force');
      const run = await runEtl(database, {
        ...options,
        ...(force === '1' ? { force: true } : {}),
        ...(upload ? { upload } : {}),
        onProgress: (progress) => {
          listener.onProgress(progress);
          options.onProgress?.(progress);
        },
        onEnd: listener.onEnd,
      });
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

  const csv = (c: Context<Env>, { raw, ...page }: FeaturesPage & { raw?: '0' | '1' }) =>
    untyped(gate.respond(
      c,
      () =>
        featuresCsv(readers.streams, page, {
          raw: raw === '1',
          onSnapshot: (snapshot) => {
            if (snapshot.run) c.header('X-Run-Id', String(snapshot.run.run_id));
            if (snapshot.average_experiments_per_user !== null) c.header('X-Average-Experiments-Per-User', String(snapshot.average_experiments_per_user));
          },
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
    // The JSON the run stored, sent as it is: the same text as the user's entry in GET /data.
    const user = await getUserJson(database, id);
    return user === undefined ? c.json({ error: `no user ${id} in the published features` }, 404) : untyped(c.body(user, 200, { 'Content-Type': JSON_TYPE }));
  });

  app.openapi(routes.users, async (c) => {
    const query = c.req.valid('query');
    try {
      return c.json(await users.list({ ...query, limit: query.limit ?? 50 }), 200);
    } catch (error) {
      if (error instanceof CursorError) return c.json({ error: error.message }, 400);
      throw error;
    }
  });

  app.openapi(routes.userExperiments, async (c) => {
    const { id } = c.req.valid('param');
    const detail = await users.detail(id);
    return detail === undefined ? c.json({ error: `no user ${id} in the published features` }, 404) : c.json(detail, 200);
  });

  app.openapi(routes.summary, async (c) => c.json(await getSummary(readers.db), 200));
}

import type { OpenAPIHono } from '@hono/zod-openapi';
import { currentMode } from '../../../db/citus.js';
import type { ApiContext, Env } from '../../context.js';
import { RETRY_AFTER_SECONDS } from '../../streams.js';
import { routes } from './health.routes.js';

export function registerHealth(app: OpenAPIHono<Env>, { database, readers }: ApiContext): void {
  app.openapi(routes.health, async (c) => {
    try {
      const mode = await currentMode(readers.db, database.mode);
      return c.json(
        { status: 'ok' as const, database: mode.kind, ...(mode.kind === 'citus' ? { workers: mode.workers, shards: mode.shards } : {}) },
        200,
      );
    } catch {
      return c.json({ status: 'unavailable' as const, database: database.mode.kind, error: 'the database does not answer' }, 503, {
        'Retry-After': String(RETRY_AFTER_SECONDS),
      });
    }
  });
}

import type { OpenAPIHono } from '@hono/zod-openapi';
import { sql } from 'kysely';
import type { ApiContext, Env } from '../../context.js';
import { RETRY_AFTER_SECONDS } from '../../streams.js';
import { routes } from './health.routes.js';

export function registerHealth(app: OpenAPIHono<Env>, { readers }: ApiContext): void {
  app.openapi(routes.health, async (c) => {
    try {
      await sql`SELECT 1`.execute(readers.db);
      return c.json({ status: 'ok' as const }, 200);
    } catch {
      return c.json({ status: 'unavailable' as const, error: 'the database does not answer' }, 503, {
        'Retry-After': String(RETRY_AFTER_SECONDS),
      });
    }
  });
}

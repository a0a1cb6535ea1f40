import type { OpenAPIHono } from '@hono/zod-openapi';
import type { ApiContext, Env } from '../../context.js';
import { routes } from './metrics.routes.js';

export function registerMetrics(app: OpenAPIHono<Env>, { metrics }: ApiContext): void {
  app.openapi(routes.metrics, async (c) => c.text(await metrics.registry.metrics(), 200, { 'content-type': metrics.contentType }));
}

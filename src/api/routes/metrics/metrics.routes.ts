// Prometheus metrics.
import { createRoute, z, type RouteConfig } from '@hono/zod-openapi';
import { common } from '../../responses.js';

export const routes = {
  metrics: createRoute({
    operationId: 'getMetrics',
    method: 'get',
    path: '/metrics',
    tags: ['Operations'],
    summary: 'Prometheus metrics',
    description:
      "HTTP request durations, ETL runs by outcome, the last run's durations and row counts, the last publish, and Node's process metrics, in the Prometheus text format.",
    responses: {
      200: {
        description: 'The metrics.',
        content: { 'text/plain': { schema: z.string().openapi({ example: 'etl_runs_total{outcome="succeeded"} 3\n' }) } },
      },
      ...common,
    },
  }),
} satisfies Record<string, RouteConfig>;

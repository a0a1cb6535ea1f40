// Whether the database answers.
import { createRoute, type RouteConfig } from '@hono/zod-openapi';
import { Health } from '../../../http/schemas.js';
import { common, json, retryAfter } from '../../responses.js';

export const routes = {
  health: createRoute({
    operationId: 'getHealth',
    method: 'get',
    path: '/health',
    tags: ['Operations'],
    summary: 'Whether the database answers',
    responses: {
      200: json(Health, 'The database answers.'),
      503: {
        ...json(
          Health.openapi({ example: { status: 'unavailable', database: 'postgresql', error: 'the database does not answer' } }),
          'The database does not answer.',
        ),
        headers: retryAfter,
      },
      ...common,
    },
  }),
} satisfies Record<string, RouteConfig>;

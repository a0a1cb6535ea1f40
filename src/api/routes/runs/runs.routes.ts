// The run records: the latest runs, one run, and a page of its rejected rows.
import { createRoute, z, type RouteConfig } from '@hono/zod-openapi';
import { idParam, intQuery } from '../../../http/params.js';
import { RejectsPage, Run } from '../../../http/schemas.js';
import { common, errors, ID_EXAMPLE, json } from '../../responses.js';

export const routes = {
  runs: createRoute({
    operationId: 'listRuns',
    method: 'get',
    path: '/runs',
    tags: ['Runs'],
    summary: 'The latest 50 runs, newest first',
    responses: { 200: json(z.object({ runs: z.array(Run) }).openapi('Runs'), 'The run records.'), 503: errors[503], ...common },
  }),
  run: createRoute({
    operationId: 'getRun',
    method: 'get',
    path: '/runs/{id}',
    tags: ['Runs'],
    summary: 'One run',
    request: { params: z.object({ id: idParam('id', ID_EXAMPLE) }) },
    responses: { 200: json(Run, 'The run record.'), 400: errors[400], 404: errors[404], 503: errors[503], ...common },
  }),
  rejects: createRoute({
    operationId: 'listRejects',
    method: 'get',
    path: '/runs/{id}/rejects',
    tags: ['Runs'],
    summary: "One page of a run's rejected rows, by file and line",
    request: {
      params: z.object({ id: idParam('id', ID_EXAMPLE) }),
      query: z.object({
        limit: intQuery('limit', 1, 10_000, 100, 'Rows per page.', 1000),
        offset: intQuery('offset', 0, Number.MAX_SAFE_INTEGER, 0, 'Rows to skip.', 0),
      }),
    },
    responses: { 200: json(RejectsPage, 'The page, streamed.'), 400: errors[400], 404: errors[404], 503: errors[503], ...common },
  }),
} satisfies Record<string, RouteConfig>;

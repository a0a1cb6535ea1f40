// The run records: the latest runs, one run, and a page of its rejected rows.
import { createRoute, z, type RouteConfig } from '@hono/zod-openapi';
import { idParam, intQuery, quoted, reasonQuery, rejectFileQuery } from '../../../http/params.js';
import { RejectsPage, Run } from '../../../http/schemas.js';
import { SOURCES } from '../../../load/inputs.js';
import { common, errors, ID_EXAMPLE, json } from '../../responses.js';

const filter = { file: rejectFileQuery(SOURCES.map((s) => s.file)), reason: reasonQuery };

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
    summary: "One page of a run's rejected rows, causes first (users.csv, compounds.csv, user_experiments.csv), by file and line",
    request: {
      params: z.object({ id: idParam('id', ID_EXAMPLE) }),
      query: z.object({
        limit: intQuery('limit', 1, 10_000, 100, 'Rows per page.', 1000),
        offset: intQuery('offset', 0, Number.MAX_SAFE_INTEGER, 0, 'Rows to skip.', 0),
        ...filter,
      }),
    },
    responses: { 200: json(RejectsPage, 'The page, streamed.'), 400: errors[400], 404: errors[404], 503: errors[503], ...common },
  }),
  rejectReasons: createRoute({
    method: 'get',
    path: '/runs/{id}/rejects/reasons',
    operationId: 'countRejectReasons',
    tags: ['Runs'],
    summary: "A run's rejected rows counted by file and reason",
    description:
      'Each kind of reason is a reason with its values written `…` (`user_id 999 is not an accepted user` counts as `user_id … is not an accepted user`); the commonest first. Pass one as `reason` to GET /runs/{id}/rejects or /rejects.csv.',
    request: { params: z.object({ id: idParam('id', ID_EXAMPLE) }) },
    responses: {
      200: json(
        z
          .object({
            run_id: z.number().int(),
            reasons: z.array(z.object({ file: z.string(), reason: z.string(), rows: z.number().int() })),
          })
          .openapi('RejectReasons', {
            example: { run_id: 3, reasons: [{ file: 'user_experiments.csv', reason: 'user_id … is not an accepted user', rows: 150 }] },
          }),
        'The counts.',
      ),
      400: errors[400],
      404: errors[404],
      503: errors[503],
      ...common,
    },
  }),
  rejectsCsv: createRoute({
    method: 'get',
    path: '/runs/{id}/rejects.csv',
    operationId: 'downloadRejectsCsv',
    tags: ['Runs'],
    summary: "A run's rejected rows as CSV",
    description:
      "RFC 4180 CSV with a header row (`file,line,reason,raw,raw_bytes`) and CRLF line ends, every reject (or those of `file` and `reason`), causes first (users.csv, compounds.csv, user_experiments.csv) and by line, streamed. Safe to open in a spreadsheet as GET /data.csv is: text starting with `=`, `+`, `-`, `@`, a tab or a CR gets a leading `'`, and control characters other than tab, LF and CR become U+FFFD (`raw=1`: the exact values).",
    request: {
      params: z.object({ id: idParam('id', ID_EXAMPLE) }),
      query: z.object({
        ...filter,
        raw: z
          .enum(['0', '1'], { error: (issue) => `raw must be 1 (the exact values) or 0 (spreadsheet-safe), got ${quoted(issue.input)}` })
          .optional()
          .openapi({
            param: { name: 'raw', in: 'query' },
            example: '1',
            description: 'Absent or 0: safe to open in a spreadsheet. 1: the exact values.',
          }),
      }),
    },
    responses: {
      200: { description: 'The rejects as CSV.', content: { 'text/csv': { schema: z.string() } } },
      400: errors[400],
      404: errors[404],
      503: errors[503],
      ...common,
    },
  }),
} satisfies Record<string, RouteConfig>;

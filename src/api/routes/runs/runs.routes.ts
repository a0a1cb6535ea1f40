// The run records: the latest runs, one run, a page of its rejected rows, and how two runs differ.
import { createRoute, z, type RouteConfig } from '@hono/zod-openapi';
import { idParam, intQuery, quoted, reasonQuery, rejectFileQuery } from '../../../http/params.js';
import { DIFF_CSV_EXAMPLE, RejectsPage, Run, RunDiff } from '../../../http/schemas.js';
import { SOURCES } from '../../../load/inputs.js';
import { MAX_ID } from '../../../load/rules.js';
import { common, errors, ID_EXAMPLE, json, JSON_TYPE } from '../../responses.js';

const diffQuery = z.object({
  against: intQuery('against', 1, MAX_ID, 1, 'The run to compare with; by default the last run that succeeded before this one.'),
  limit: intQuery('limit', 1, 100_000, 1000, 'At most this many changed users; the answer then has `next_after`.'),
  after: intQuery('after', 0, MAX_ID, 0, "Only users with a larger user_id (the previous page's `next_after`)."),
  raw: z
    .enum(['0', '1'], { error: (issue) => `raw must be 1 (the exact values) or 0 (spreadsheet-safe), got ${quoted(issue.input)}` })
    .optional()
    .openapi({
      param: { name: 'raw', in: 'query' },
      example: '1',
      description: 'CSV only: 1 for the exact compound names; absent or 0, made safe to open in a spreadsheet as in GET /data.csv.',
    }),
});
const diffErrors = {
  400: errors[400],
  404: json(
    z.object({ error: z.string() }),
    'A run is unknown, failed, or its features are no longer kept (KEEP_RUNS), or the run has no earlier successful run to compare with.',
  ),
  503: errors[503],
  ...common,
};
const DIFF_DESCRIPTION =
  'Compares the features of two runs whose features are kept (the newest KEEP_RUNS successful runs and the published one): users added, removed and changed, how many changed each feature, the average before and after, and the changed users with their values before (in `against`) and after (in the run), by user_id, streamed. The same as `SELECT * FROM etl.run_diff(id, against)` in psql.';

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
  diff: createRoute({
    method: 'get',
    path: '/runs/{id}/diff',
    operationId: 'getRunDiff',
    tags: ['Runs'],
    summary: 'How the features of a run differ from those of another run',
    description: `${DIFF_DESCRIPTION} \`Accept: text/csv\` answers CSV, as GET /runs/{id}/diff.csv does.`,
    request: { params: z.object({ id: idParam('id', ID_EXAMPLE) }), query: diffQuery },
    responses: {
      200: {
        description: 'The differences (JSON, or CSV when the client prefers text/csv).',
        content: { [JSON_TYPE]: { schema: RunDiff }, 'text/csv': { schema: z.string().openapi({ example: DIFF_CSV_EXAMPLE }) } },
      },
      ...diffErrors,
    },
  }),
  diffCsv: createRoute({
    method: 'get',
    path: '/runs/{id}/diff.csv',
    operationId: 'getRunDiffCsv',
    tags: ['Runs'],
    summary: 'The changed users of GET /runs/{id}/diff, as CSV',
    description: `${DIFF_DESCRIPTION} RFC 4180 CSV, one record per changed user, \`_before\` and \`_after\` columns; the numbers are in headers.`,
    request: { params: z.object({ id: idParam('id', ID_EXAMPLE) }), query: diffQuery },
    responses: {
      200: {
        description: 'The changed users as CSV.',
        headers: {
          'X-Against': { description: 'The run compared with.', schema: { type: 'integer' } },
          'X-Users-Added': { description: 'Users in the run only.', schema: { type: 'integer' } },
          'X-Users-Removed': { description: 'Users in `against` only.', schema: { type: 'integer' } },
          'X-Users-Changed': { description: 'Users in both whose features differ.', schema: { type: 'integer' } },
        },
        content: { 'text/csv': { schema: z.string().openapi({ example: DIFF_CSV_EXAMPLE }) } },
      },
      ...diffErrors,
    },
  }),
} satisfies Record<string, RouteConfig>;

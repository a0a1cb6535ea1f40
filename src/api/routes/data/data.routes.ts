// The data: the run trigger (POST /data, from DATA_DIR or an upload), the features (JSON, CSV),
// one user, and the summary.
import { createRoute, z, type RouteConfig } from '@hono/zod-openapi';
import { idParam, intQuery, quoted, usersQuery } from '../../../http/params.js';
import { CSV_EXAMPLE, ErrorBody, FeaturesAnswer, Run, RunErrorBody, Summary, UserDetail, UserFeatures, UsersPage } from '../../../http/schemas.js';
import { MAX_PAGE } from '../../../read/users.js';
import { MAX_ID } from '../../../load/rules.js';
import { common, errors, ID_EXAMPLE, json, JSON_TYPE, retryAfter } from '../../responses.js';

const limitQuery = intQuery('limit', 1, 100_000, 1000, 'At most this many users; the answer then has `next_after`.');
const afterQuery = intQuery('after', 0, MAX_ID, 0, 'Only users with a larger user_id (the previous page\'s `next_after`).');
const rawQuery = z
  .enum(['0', '1'], { error: (issue) => `raw must be 1 (the exact values) or 0 (spreadsheet-safe), got ${quoted(issue.input)}` })
  .optional()
  .openapi({
    param: { name: 'raw', in: 'query' },
    example: '1',
    description:
      'CSV only (JSON is always exact). Absent or 0: safe to open in a spreadsheet: a name, email or compound name starting with `=`, `+`, `-`, `@`, a tab or a CR gets a leading `\'`, and control characters other than tab, LF and CR become U+FFFD. 1: the exact values, for programs.',
  });
const featuresQuery = z.object({ limit: limitQuery, after: afterQuery, raw: rawQuery });
const forceQuery = z.object({
  force: z
    .enum(['0', '1'], { error: (issue) => `force must be 1 (publish even a large drop) or 0, got ${quoted(issue.input)}` })
    .optional()
    .openapi({
      param: { name: 'force', in: 'query' },
      example: '1',
      description:
        'Publish the run even when it has far fewer users or experiments than the published run (more than MAX_DROP_RATIO fewer), which the publish guard otherwise refuses with 422.',
    }),
});

export const routes = {
  runEtl: createRoute({
    operationId: 'runEtl',
    method: 'post',
    path: '/data',
    tags: ['ETL'],
    summary: 'Run the ETL on DATA_DIR, or on uploaded files',
    description:
      'Loads the three CSV files, transforms and publishes them in one transaction, and answers when the run has committed. Without a body the files are read from DATA_DIR. ' +
      'With `Content-Type: multipart/form-data` they are the body\'s three file parts `users`, `user_experiments` and `compounds` (e.g. `curl -F users=@users.csv -F user_experiments=@user_experiments.csv -F compounds=@compounds.csv`), streamed, up to MAX_UPLOAD_BYTES; ' +
      'the run then has `source: upload`. With API_TOKEN set, it needs `Authorization: Bearer <API_TOKEN>`.',
    security: [{}, { bearer: [] }],
    request: { query: forceQuery },
    responses: {
      200: json(Run, 'The run succeeded and its features are published. `warnings` lists what to look at anyway (too many rejects of a file for WARN_REJECT_RATIO, knock-on rejects); empty when nothing.'),
      400: json(RunErrorBody, 'An upload with a part without a name, an unknown or repeated part, a part that is not a file, a malformed body, a client that disconnected, or one that sent less than UPLOAD_MIN_BYTES_PER_SECOND over a window of UPLOAD_RATE_WINDOW_MS; the run (if one started) is recorded as failed.'),
      401: { ...json(ErrorBody, 'API_TOKEN is set and the request has no `Authorization: Bearer` with it.'), headers: { 'WWW-Authenticate': { description: 'Bearer', schema: { type: 'string' as const, example: 'Bearer' } } } },
      409: json(RunErrorBody, 'Another run is in progress; `run_id` names it. An upload\'s body is then not read.'),
      422: json(RunErrorBody, 'The input is unusable (the message names the file and problem), too many rows were rejected, or the publish guard refused a run with far fewer users or experiments than the published one (the message names both counts and how to publish anyway: `?force=1`); the run is recorded as failed and the previous features stay.'),
      503: { ...json(RunErrorBody, 'The database went away or the service is stopping; the run is recorded as failed.'), headers: retryAfter },
      ...common,
      413: json(ErrorBody, 'An upload over MAX_UPLOAD_BYTES (with `run_id` when its run had started), or any other body over 16 KiB.'),
    },
  }),
  features: createRoute({
    operationId: 'getFeatures',
    method: 'get',
    path: '/data',
    tags: ['Features'],
    summary: 'The features of every user',
    description:
      'Ordered by user_id, from the last successful run, streamed from one snapshot. `Accept: text/csv` answers CSV, as GET /data.csv does.',
    request: { query: featuresQuery },
    responses: {
      200: {
        description: 'The features (JSON, or CSV when the client prefers text/csv).',
        content: {
          [JSON_TYPE]: { schema: FeaturesAnswer },
          'text/csv': { schema: z.string().openapi({ example: CSV_EXAMPLE }) },
        },
      },
      400: errors[400],
      503: errors[503],
      ...common,
    },
  }),
  featuresCsv: createRoute({
    operationId: 'getFeaturesCsv',
    method: 'get',
    path: '/data.csv',
    tags: ['Features'],
    summary: 'The features of every user, as CSV',
    description:
      'RFC 4180 CSV with a header row and CRLF line ends: the users of GET /data in the same order, with the same values but for the text made safe for a spreadsheet (`raw=1`: exactly the same values). `top_compound_ids` is a `;`-separated list; null is an empty field. Paging: the next page\'s `after` is the last row\'s user_id; a page shorter than `limit` is the last.',
    request: { query: featuresQuery },
    responses: {
      200: {
        description: 'The users as CSV.',
        headers: {
          'X-Run-Id': { description: 'The published run the rows come from (absent before any run succeeded).', schema: { type: 'integer' } },
          'X-Average-Experiments-Per-User': { description: 'The data set\'s average (absent when there is none).', schema: { type: 'number' } },
        },
        content: { 'text/csv': { schema: z.string().openapi({ example: CSV_EXAMPLE }) } },
      },
      400: errors[400],
      503: errors[503],
      ...common,
    },
  }),
  user: createRoute({
    operationId: 'getUserFeatures',
    method: 'get',
    path: '/data/users/{id}',
    tags: ['Features'],
    summary: "One user's features",
    request: { params: z.object({ id: idParam('id', ID_EXAMPLE) }) },
    responses: {
      200: json(UserFeatures, "The user's features in the published run."),
      400: errors[400],
      404: errors[404],
      503: errors[503],
      ...common,
    },
  }),
  users: createRoute({
    operationId: 'listUsers',
    method: 'get',
    path: '/data/users',
    tags: ['Features'],
    summary: 'The users sorted by any feature, searched by id, name or email, a page at a time',
    description:
      'One page of the published users, sorted by `sort` (`dir`), optionally only those matching `q`, from one snapshot of the published run. ' +
      'Keyset paging: `next` and `prev` are opaque cursors (the sort value and user_id of the page\'s last or first user, the run, the sort and the search); pass one as `after` or `before`. ' +
      'A cursor from an earlier published run, another sort or search, or one changed by hand is refused (400). `total_users` counts the run\'s users; `matching` how many match `q` (counted up to 10,000; beyond, `exact` is false). ' +
      'Each user has `top_compounds`: every tied top compound with its name.',
    request: { query: z.object(usersQuery(MAX_PAGE, 50)) },
    responses: {
      200: json(UsersPage, 'The page.'),
      400: json(ErrorBody, 'A parameter is invalid, `after` and `before` are both given, or a cursor is stale or was changed; the message says which.'),
      503: errors[503],
      ...common,
    },
  }),
  userExperiments: createRoute({
    operationId: 'getUserExperiments',
    method: 'get',
    path: '/data/users/{id}/experiments',
    tags: ['Features'],
    summary: "One user's features, experiments and compound counts",
    description:
      "The user's features in the published run, their experiments (file order, with the compounds named) and, for every compound they used, how many of their experiments list it: the counts that make the top compound (`top`). Read from one snapshot.",
    request: { params: z.object({ id: idParam('id', ID_EXAMPLE) }) },
    responses: {
      200: json(UserDetail, 'The user.'),
      400: errors[400],
      404: errors[404],
      503: errors[503],
      ...common,
    },
  }),
  summary: createRoute({
    operationId: 'getSummary',
    method: 'get',
    path: '/data/summary',
    tags: ['Features'],
    summary: 'The published data set in a few numbers: totals, a histogram of experiments per user, the most common top compounds',
    description:
      'Aggregated by PostgreSQL over the published run (views `features.experiments_histogram` and `features.top_compound_users`), read in one snapshot. The dashboard draws its pictures from it.',
    responses: { 200: json(Summary, 'The summary; `run_id` is null and the lists are empty before any run succeeded.'), 503: errors[503], ...common },
  }),
} satisfies Record<string, RouteConfig>;

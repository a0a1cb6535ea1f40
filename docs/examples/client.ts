// A typed TypeScript client of lab-features-etl: the types are generated from the service's OpenAPI
// document (docs/examples/api.d.ts, see docs/day-two.md#clients), the calls made by openapi-fetch.
//   npx tsx docs/examples/client.ts [BASE_URL]       # default http://127.0.0.1:8080
import createClient from 'openapi-fetch';
import type { paths } from './api.js';

// 'application/json': the answers' JSON form (GET /data can also answer text/csv).
const client = createClient<paths, 'application/json'>({
  baseUrl: process.argv[2] ?? 'http://127.0.0.1:8080',
  headers: process.env.API_TOKEN ? { Authorization: `Bearer ${process.env.API_TOKEN}` } : {},
});

// Every user, 500 a page: `after` is the previous page's `next_after` (null on the last page).
const users: paths['/data']['get']['responses'][200]['content']['application/json']['users'] = [];
let after = 0;
let runId: number | null;
for (;;) {
  const { data, error } = await client.GET('/data', { params: { query: { limit: 500, after } } });
  if (error) throw new Error(`GET /data: ${error.error}`);
  users.push(...data.users);
  runId = data.run?.run_id ?? null;
  if (data.next_after == null) break;
  after = data.next_after;
}

// One user, and the newest run records.
const first = users[0] ? (await client.GET('/data/users/{id}', { params: { path: { id: users[0].user_id } } })).data : undefined;
const { data: runs } = await client.GET('/runs');

console.log(
  JSON.stringify(
    { run_id: runId, users: users.length, first_user: first, latest_runs: runs?.runs.slice(0, 3).map((r) => r.status) },
    null,
    2,
  ),
);

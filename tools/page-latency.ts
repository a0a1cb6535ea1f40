/**
 * The features page's latency: a fixed mix of requests against a running service, one at a time,
 * and p50/p99/max per kind of request.
 *
 *   npx tsx tools/page-latency.ts [--base http://127.0.0.1:8080] [--rounds 60] [--seed 1] [--ui]
 *
 * Kinds: the first page of every sort × direction; a deep page of each (an `after` cursor at a
 * random user's place, minted as the service mints them); the next page via the answer's cursor;
 * searches (a user id, a narrow and broad prefix of names and emails, one letter matching every
 * user, no match) under several sorts, and their next page; one user's experiments. With --ui the
 * dashboard's pages too (/ui/features with the same queries, /ui/users/:id). Prints a markdown
 * table; the load average before and after goes with it (the machine is shared).
 */
import { readFileSync } from 'node:fs';
import { encodeCursor, type CursorBody } from '../src/read/users.js';
import { USER_SORTS } from '../src/http/params.js';
import { integerOption, toolArgs } from './args.js';

const values = toolArgs(process.argv.slice(2), ['base', 'rounds', 'seed'], ['ui']);
const base = values.base ?? 'http://127.0.0.1:8080';
const rounds = integerOption('rounds', values.rounds, 60, { min: 1 });
let state = integerOption('seed', values.seed, 1) >>> 0 || 1;
const random = () => (state = (Math.imul(state, 1664525) + 1013904223) >>> 0) / 2 ** 32;
const load = () => readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- JSON answers, read loosely
type Json = any;

async function get(path: string): Promise<{ ms: number; status: number; body: Json }> {
  const started = performance.now();
  const response = await fetch(`${base}${path}`);
  const text = await response.text();
  const ms = performance.now() - started;
  return { ms, status: response.status, body: response.headers.get('content-type')?.includes('json') ? JSON.parse(text) : text };
}

const times = new Map<string, number[]>();
async function timed(kind: string, path: string): Promise<Json> {
  const { ms, status, body } = await get(path);
  if (status !== 200) throw new Error(`${path}: ${status} ${JSON.stringify(body).slice(0, 200)}`);
  times.set(kind, [...(times.get(kind) ?? []), ms]);
  return body;
}

const first = await get('/data/users?limit=1');
const run: number = first.body.run_id;
const users: number = first.body.total_users;
const SEARCHES = ['u', 'user', 'user 1', 'user1', 'user 12', 'user 1234', 'USER 99999', 'x', '777777'];
const SEARCH_SORTS = ['user_id', 'name', 'total_experiments', 'average_run_time'] as const;
const loadBefore = load();

for (let round = 0; round < rounds; round++) {
  for (const sort of USER_SORTS) {
    for (const dir of ['asc', 'desc'] as const) {
      const q = `sort=${sort}&dir=${dir}&limit=50`;
      const page = await timed('first page (each sort × dir)', `/data/users?${q}`);
      if (page.next) await timed('next page via cursor', `/data/users?${q}&after=${encodeURIComponent(page.next)}`);
      // A deep page: after a random user's place in this order.
      const id = 1 + Math.floor(random() * users);
      const user = (await get(`/data/users?q=${id}`)).body.users[0];
      if (user) {
        const raw = user[sort];
        const k = typeof raw === 'string' ? raw.toLowerCase() : raw;
        const body: CursorBody = { r: run, s: sort, d: dir, q: '', k, i: id };
        const deep = await timed('deep page (after a random user)', `/data/users?${q}&after=${encodeURIComponent(encodeCursor(body))}`);
        if (deep.prev) await timed('previous page via cursor', `/data/users?${q}&before=${encodeURIComponent(deep.prev)}`);
      }
      if (values.ui) await timed('ui: features page', `/ui/features?${q}`);
    }
  }
  const sort = SEARCH_SORTS[round % SEARCH_SORTS.length]!;
  const dir = round % 2 === 0 ? 'asc' : 'desc';
  for (const search of SEARCHES) {
    const q = `q=${encodeURIComponent(search)}&sort=${sort}&dir=${dir}&limit=50`;
    const kind = search.length <= 4 ? 'search: broad prefix (u, user) / no match / id' : 'search: prefix (user 1 … user 99999)';
    const page = await timed(kind, `/data/users?${q}`);
    if (page.next) await timed('search: next page', `/data/users?${q}&after=${encodeURIComponent(page.next)}`);
    if (values.ui) await timed('ui: search', `/ui/features?${q}`);
  }
  for (let i = 0; i < 5; i++) {
    const id = 1 + Math.floor(random() * users);
    await timed("one user's experiments", `/data/users/${id}/experiments`);
    if (values.ui) await timed('ui: user page', `/ui/users/${id}`);
  }
}

const pct = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
console.log(`| request (${users.toLocaleString('en')} users, run ${run}) | n | p50 ms | p99 ms | max ms |`);
console.log('|---|---|---|---|---|');
for (const [kind, list] of times) {
  const sorted = [...list].sort((a, b) => a - b);
  console.log(
    `| ${kind} | ${sorted.length} | ${pct(sorted, 50).toFixed(1)} | ${pct(sorted, 99).toFixed(1)} | ${sorted[sorted.length - 1]!.toFixed(1)} |`,
  );
}
console.log(`\nload average before: ${loadBefore}; after: ${load()}`);

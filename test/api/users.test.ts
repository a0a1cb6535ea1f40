// GET /data/users and GET /data/users/:id/experiments (src/read/users.ts) on a data set made of
// ties and nulls: names and emails equal but for their case, equal averages, users without
// experiments. What a user notices: paging forward through every page and back again gives every
// user once, in exactly the order one ORDER BY gives, for every sort and direction, with and
// without a search; searches find ids and name or email prefixes in any case; a changed or stale
// cursor is refused with a message; one user's experiments and compound counts are those the
// files say.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createApp } from '../../src/api/app.js';
import type { DbHandle } from '../../src/db/connect.js';
import { USER_SORTS } from '../../src/http/params.js';
import { buildReadIndexes } from '../../src/run/read-indexes.js';
import {
  encodeCursor,
  getUserDetail,
  listUsers,
  MATCH_COUNT_CAP,
  prefixRange,
  type CursorBody,
  type Dir,
  type Sort,
  type Tuning,
  type UsersQuery,
} from '../../src/read/users.js';
import { dataDir, options, query, removeDir, run, testDatabase } from '../helpers.js';

const NAMES = ['Ann', 'ann', 'ANN', 'Anna', 'Bob', 'bob', 'Émile', 'émile', 'Zoë', 'Mary_Ann', 'Mary%Ann', 'ann-marie'];
const COMPOUNDS = ['Aspirin', 'aspirin', 'Caffeine', 'Zinc', 'água', 'Água'];
const USERS = 240;

let database: DbHandle;
let dir: string;
let app: ReturnType<typeof createApp>;
/** The experiments written to the file: user -> [experiment id, run time, compound ids as listed, line]. */
const experiments = new Map<number, { id: number; runTime: number; compounds: number[]; line: number }[]>();

before(async () => {
  database = await testDatabase();
  const users = [['user_id', 'name', 'email', 'signup_date']];
  for (let id = 1; id <= USERS; id++)
    users.push([
      String(id),
      NAMES[id % NAMES.length]!,
      `${NAMES[(id * 7) % NAMES.length]!.toLowerCase()}${id % 3}@example.org`,
      '2024-01-01',
    ]);
  const compounds = [['compound_id', 'compound_name', 'compound_structure'], ...COMPOUNDS.map((name, i) => [String(i + 1), name, 'C'])];
  const rows = [['experiment_id', 'user_id', 'experiment_compound_ids', 'experiment_run_time']];
  let experiment = 0;
  for (let id = 1; id <= USERS; id++) {
    // Every fourth user has none (null average and top compound); run times repeat, so averages tie.
    const count = id % 4 === 0 ? 0 : 1 + (id % 5);
    for (let i = 0; i < count; i++) {
      experiment++;
      const listed = [1 + ((id + i) % 6), 1 + ((id * i) % 6), 1 + ((id + i) % 6)]; // a compound listed twice counts once
      const runTime = [1, 2, 2.5, 10][(id + i) % 4]!;
      rows.push([String(experiment), String(id), listed.join(';'), String(runTime)]);
      // line 1 is the header: the first experiment is on line 2
      experiments.set(id, [...(experiments.get(id) ?? []), { id: experiment, runTime, compounds: listed, line: rows.length }]);
    }
  }
  dir = await dataDir({ users, compounds, experiments: rows });
  assert.equal((await run(database, dir)).status, 'succeeded');
  app = createApp(database, options(dir));
});

after(async () => {
  await database?.close();
  if (dir) await removeDir(dir);
});

/** One ORDER BY over every user (of a search), the order the pages must give, from SQL that is not the reader's. */
async function expected(sort: Sort, dir: Dir, where = 'true', params: unknown[] = []): Promise<number[]> {
  const key = ['name', 'email', 'top_compound_name'].includes(sort) ? `lower(${sort}) COLLATE "C"` : sort;
  const order = dir === 'asc' ? 'ASC NULLS LAST' : 'DESC NULLS FIRST';
  const rows = await query<{ user_id: number }>(
    database,
    `SELECT user_id FROM features.user_features WHERE ${where} ORDER BY ${key} ${order}, user_id ${dir}`,
    params,
  );
  return rows.map((r) => Number(r.user_id));
}

/** Every page forward from the first, then every page back from the last: the user ids seen each way. */
async function walk(q: Omit<UsersQuery, 'limit'>, limit: number, tuning?: Tuning): Promise<{ forward: number[]; backward: number[] }> {
  const list = (more: Partial<UsersQuery>) => listUsers(database.readers.db, { ...q, limit, ...more }, tuning);
  const forward: number[] = [];
  let page = await list({});
  assert.equal(page.prev, null, 'the first page has no previous page');
  for (;;) {
    forward.push(...page.users.map((u) => u.user_id));
    if (page.next === null) break;
    page = await list({ after: page.next });
    assert.notEqual(page.prev, null, 'a page after the first has a previous page');
  }
  const backward: number[] = [...page.users.map((u) => u.user_id)];
  while (page.prev !== null) {
    page = await list({ before: page.prev });
    assert.notEqual(page.next, null, 'a page before the last has a next page');
    backward.unshift(...page.users.map((u) => u.user_id));
  }
  return { forward, backward };
}

for (const indexes of ['without', 'with'] as const) {
  test(`keyset pages give one ORDER BY exactly, forward and back, for every sort and direction (${indexes} the read indexes)`, async () => {
    if (indexes === 'with') {
      await buildReadIndexes(database, null, () => {});
      const n = (
        await query<{ n: number }>(database, "SELECT count(*)::int AS n FROM pg_class WHERE relname LIKE '%\\_by\\_%' ESCAPE '\\'")
      )[0]!.n;
      assert.ok(n >= 7, `the read indexes exist (${n})`);
    }
    for (const sort of USER_SORTS) {
      for (const dir of ['asc', 'desc'] as const) {
        const want = await expected(sort, dir);
        assert.equal(want.length, USERS);
        for (const limit of [1, 7, 50]) {
          const { forward, backward } = await walk({ sort, dir }, limit);
          assert.deepEqual(forward, want, `${sort} ${dir}, ${limit} a page, forward`);
          assert.deepEqual(backward, want, `${sort} ${dir}, ${limit} a page, backward`);
        }
      }
    }
  });
}

test('a search pages exactly too, and finds an id, a name or email prefix in any case, literally', async () => {
  const prefix = 'lower(name) COLLATE "C" LIKE lower($1) || \'%\' OR lower(email) COLLATE "C" LIKE lower($1) || \'%\'';
  for (const [q, like] of [
    ['ann', 'ann'],
    ['ANN', 'ann'],
    ['Ém', 'ém'],
    ['bob2', 'bob2'],
  ] as const) {
    for (const sort of ['user_id', 'name', 'email', 'average_run_time', 'top_compound_name'] as const) {
      for (const dir of ['asc', 'desc'] as const) {
        const want = await expected(sort, dir, prefix, [q]);
        if (/^[a-z0-9]+$/i.test(q)) assert.deepEqual(want, await expected(sort, dir, prefix, [like]), 'ASCII: any case');
        assert.ok(want.length > 0, `${q} matches someone`);
        // Each plan of a search (src/read/users.ts, Mode): few matches gathered; many, walked a
        // window at a time (a window of 5 users is often too sparse: then gathered).
        for (const tuning of [undefined, { matchCountCap: 2, walk: 5 }, { matchCountCap: 2, walk: 1000 }]) {
          const { forward, backward } = await walk({ sort, dir, q }, 4, tuning);
          assert.deepEqual(forward, want, `${q} by ${sort} ${dir} ${JSON.stringify(tuning)}`);
          assert.deepEqual(backward, want, `${q} by ${sort} ${dir} ${JSON.stringify(tuning)}, back`);
        }
      }
    }
  }
  const page = (q: string) => listUsers(database.readers.db, { sort: 'user_id', dir: 'asc', q, limit: 500 });
  // The names found that have the prefix (the others were found by their email).
  const names = (q: string) =>
    page(q).then((p) => [...new Set(p.users.map((u) => u.name).filter((n) => n.toLowerCase().startsWith(q.toLowerCase())))].sort());
  assert.deepEqual(await names('ANN'), ['ANN', 'Ann', 'Anna', 'ann', 'ann-marie'].sort(), 'case-insensitive name prefix');
  assert.deepEqual(await names('mary_'), ['Mary_Ann'], '_ is a character, not a wildcard');
  assert.deepEqual(await names('mary%'), ['Mary%Ann'], '% is a character, not a wildcard');
  // Beyond ASCII, lower() follows the database's LC_CTYPE (the embedded server's is C: ASCII only).
  const { unicode } = (await query<{ unicode: boolean }>(database, "SELECT lower('É') = 'é' AS unicode"))[0]!;
  if (unicode) assert.deepEqual(await names('émile'), ['Émile', 'émile'], 'beyond ASCII');
  // A prefix is searched as the range of keys from it to the first string after all that start
  // with it; at the end of the code points that string is shorter, or there is none.
  assert.deepEqual(prefixRange('zo'), { low: 'zo', high: 'zp' });
  assert.deepEqual(prefixRange('a\u{10FFFF}'), { low: 'a\u{10FFFF}', high: 'b' });
  assert.deepEqual(prefixRange('\u{D7FF}').high, '\u{E000}', 'past the surrogates');
  assert.deepEqual(prefixRange('\u{10FFFF}').high, null);
  const byId = await page('17');
  assert.deepEqual(
    byId.users.map((u) => u.user_id),
    [17],
  );
  assert.deepEqual(byId.matching, { count: 1, exact: true });
  const none = await page('nobody');
  assert.deepEqual([none.users, none.matching, none.next, none.prev], [[], { count: 0, exact: true }, null, null]);
  const ann = await page('ann');
  assert.equal(ann.matching!.count, ann.users.length);
  assert.equal(ann.total_users, USERS);
  assert.ok(MATCH_COUNT_CAP >= 1000);
});

test('tied top compounds come with their names', async () => {
  const page = await listUsers(database.readers.db, { sort: 'user_id', dir: 'asc', limit: 500 });
  const names = new Map(COMPOUNDS.map((name, i) => [i + 1, name]));
  let ties = 0;
  for (const user of page.users) {
    assert.deepEqual(
      user.top_compounds,
      user.top_compound_ids.map((id) => ({ id, name: names.get(id) })),
    );
    if (user.top_compounds.length > 1) ties++;
  }
  assert.ok(ties > 10, `many users have tied top compounds (${ties})`);
});

/** `cursor` with a NUL in its key, checksummed as the service does. */
function nulCursor(cursor: string): string {
  const body = JSON.parse(Buffer.from(cursor.split('.')[0]!, 'base64url').toString()) as CursorBody;
  return encodeCursor({ ...body, k: `${String(body.k)}\0` });
}

test('a changed, foreign or stale cursor is refused with 400 and says what to do', async () => {
  const get = async (url: string) => {
    const response = await app.request(url);
    return { status: response.status, body: (await response.json()) as { error?: string; next?: string; users?: unknown[] } };
  };
  const first = await get('/data/users?sort=name&limit=5');
  assert.equal(first.status, 200);
  const cursor = first.body.next!;
  assert.equal((await get(`/data/users?sort=name&limit=5&after=${encodeURIComponent(cursor)}`)).status, 200);
  const [payload, sum] = cursor.split('.');
  const changed = Buffer.from(
    Buffer.from(payload!, 'base64url')
      .toString()
      .replace(/"i":\d+/, '"i":1'),
  ).toString('base64url');
  for (const [url, message] of [
    [`/data/users?sort=name&after=${changed}.${sum}`, /not one this service made/],
    [`/data/users?sort=name&after=${cursor.slice(0, -2)}`, /not one this service made/],
    ['/data/users?sort=name&after=garbage', /not one this service made/],
    [`/data/users?sort=email&after=${encodeURIComponent(cursor)}`, /another sort, direction or search/],
    [`/data/users?sort=name&dir=desc&after=${encodeURIComponent(cursor)}`, /another sort, direction or search/],
    [`/data/users?sort=name&q=ann&after=${encodeURIComponent(cursor)}`, /another sort, direction or search/],
    [`/data/users?sort=name&after=${encodeURIComponent(cursor)}&before=${encodeURIComponent(cursor)}`, /after or before, not both/],
    ['/data/users?sort=age', /sort must be one of user_id, name/],
    ['/data/users?limit=501', /limit must be an integer from 1 to 500/],
    // A NUL cannot reach PostgreSQL's text (it answered 500): in a search, or in a cursor whose
    // checksum was recomputed by hand (the salt is in the code: a cursor is not a secret).
    ['/data/users?q=ann%00', /q must not contain a NUL character/],
    [`/data/users?sort=name&after=${encodeURIComponent(nulCursor(cursor))}`, /not one this service made/],
  ] as const) {
    const answer = await get(url);
    assert.equal(answer.status, 400, url);
    assert.match(answer.body.error!, message, url);
  }
  // Another run published since: the cursor is stale.
  assert.equal((await run(database, dir)).status, 'succeeded');
  const stale = await get(`/data/users?sort=name&limit=5&after=${encodeURIComponent(cursor)}`);
  assert.equal(stale.status, 400);
  assert.match(stale.body.error!, /has been published since: start again from the first page/);
});

test("one user's experiments (file order) and compound counts are what the file says; an unknown user is 404", async () => {
  const names = new Map(COMPOUNDS.map((name, i) => [i + 1, name]));
  for (const id of [1, 2, 3, 4, 7, 119, 240]) {
    const detail = await getUserDetail(database.readers.db, id);
    assert.ok(detail, `user ${id}`);
    const mine = experiments.get(id) ?? [];
    assert.deepEqual(
      detail.experiments.map((e) => [e.experiment_id, e.run_time, e.line, e.compounds.map((c) => c.id)]),
      mine.map((e) => [e.id, e.runTime, e.line, [...new Set(e.compounds)]]),
    );
    const counts = new Map<number, number>();
    for (const e of mine) for (const c of new Set(e.compounds)) counts.set(c, (counts.get(c) ?? 0) + 1);
    const top = Math.max(0, ...counts.values());
    assert.deepEqual(
      detail.compound_counts,
      [...counts]
        .sort((a, b) => b[1] - a[1] || a[0] - b[0])
        .map(([c, n]) => ({ id: c, name: names.get(c), experiments: n, top: n === top })),
    );
    assert.deepEqual(
      detail.user.top_compound_ids,
      [...counts]
        .filter(([, n]) => n === top)
        .map(([c]) => c)
        .sort((a, b) => a - b),
    );
    assert.equal(detail.user.total_experiments, mine.length);
  }
  const unknown = await app.request('/data/users/9999/experiments');
  assert.equal(unknown.status, 404);
  assert.deepEqual(await unknown.json(), { error: 'no user 9999 in the published features' });
});

test('a run builds no read indexes: the first read of the features page after it starts their build, in the background', async () => {
  const built = async (runId: number) =>
    (
      await query<{ n: number }>(database, 'SELECT count(*)::int AS n FROM pg_class WHERE relname ~ $1', [
        `^(user_features|experiments|compounds)_run_${runId}_by_`,
      ])
    )[0]!.n;
  const record = await run(database, dir);
  assert.equal(record.status, 'succeeded');
  assert.equal(await built(record.run_id), 0, 'the run itself built none');
  const answer = await app.request('/data/users?sort=name');
  assert.equal(answer.status, 200);
  assert.equal(((await answer.json()) as { run_id: number }).run_id, record.run_id);
  const deadline = Date.now() + 60_000;
  while ((await built(record.run_id)) < 7) {
    assert.ok(Date.now() < deadline, 'the 7 read indexes were built within a minute of the first read');
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
});

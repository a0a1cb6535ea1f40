// GET /data/summary (src/read/summary.ts over the views of sql/000010-summary-views.sql): exact values on
// the challenge's files worked out by hand, the buckets of a distribution with a long tail, and that
// only the published run is summarized.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createApp } from '../../src/api/app.js';
import { Summary } from '../../src/http/schemas.js';
import type { DbHandle } from '../../src/db/connect.js';
import { CHALLENGE_DIR, dataDir, features, options, removeDir, testDatabase } from '../helpers.js';

let database: DbHandle;
let app: ReturnType<typeof createApp>;

before(async () => {
  database = await testDatabase();
  app = createApp(database, options(CHALLENGE_DIR));
});
after(() => database.close());

const summary = async (on = app) => {
  const response = await on.request('/data/summary');
  assert.equal(response.status, 200);
  const body = (await response.json()) as any;
  assert.deepEqual(Summary.parse(body), body, 'the answer matches its documented schema exactly');
  return body;
};

test('before any run: no run, nothing to count', async (t) => {
  const own = await testDatabase(); // no test's run in it, whatever ran before
  t.after(() => own.close());
  assert.deepEqual(await summary(createApp(own, options(CHALLENGE_DIR))), {
    run_id: null,
    users: 0,
    experiments: 0,
    average_experiments_per_user: null,
    histogram: [],
    top_compounds: [],
  });
});

test('the challenge files: totals, histogram and top compounds worked out by hand', async () => {
  const posted = (await (await app.request('/data', { method: 'POST' })).json()) as any;
  assert.equal(posted.status, 'succeeded');
  // From test/fixtures/challenge/user_experiments.csv: 11 experiments; Alice (user 1) has two (1;2
  // and 2;3), each other user of the 10 exactly one. So no user has 0, nine have 1, one has 2.
  // Top compounds (users.csv has 10 users): Alice ran 2 twice -> {2}. Everyone else ran one
  // experiment, so all its compounds tie: Bob 1;3, Carol 2;3, Dave 1;2;3, Eve 2;3, Frank 1;3,
  // Grace 2;3, Heidi 1;2, Ivan 2;3, Judy 1;3. Counting users per compound:
  //   1: Bob Dave Frank Heidi Judy = 5;  2: Alice Carol Dave Eve Grace Heidi Ivan = 7;
  //   3: Bob Carol Dave Eve Frank Grace Ivan Judy = 8.
  assert.deepEqual(await summary(), {
    run_id: posted.run_id,
    users: 10,
    experiments: 11,
    average_experiments_per_user: 1.1,
    histogram: [
      { min_experiments: 0, max_experiments: 0, users: 0 },
      { min_experiments: 1, max_experiments: 1, users: 9 },
      { min_experiments: 2, max_experiments: 2, users: 1 },
    ],
    top_compounds: [
      { compound_id: 3, compound_name: 'Compound C', users: 8 },
      { compound_id: 2, compound_name: 'Compound B', users: 7 },
      { compound_id: 1, compound_name: 'Compound A', users: 5 },
    ],
  });
});

test("a failed run changes nothing: the summary is the published run's", async () => {
  assert.equal((await app.request('/data', { method: 'POST' })).status, 200);
  const before = await summary();
  assert.equal(before.users, 10, "the challenge's run is published");
  const broken = await dataDir({ users: 'user_id,\tname\r\n1,\tAnn' });
  try {
    const response = await createApp(database, options(broken)).request('/data', { method: 'POST' });
    assert.equal(response.status, 422);
    assert.deepEqual(await summary(), before);
  } finally {
    await removeDir(broken);
  }
});

test('a long tail: round bucket widths up to the 99th percentile, the tail in one last bucket, ranks by users then id', async () => {
  // 200 users: user u (1..199) runs (u - 1) % 60 experiments: 0..18 experiments four users each,
  // 19..59 three users each (users 1, 61, 121, 181 run none); user 200 runs 5000. The 99th
  // percentile is the 198th of the 200 counts in order: 59 (199 users run at most 59, 196 at most
  // 58). The smallest round width with 59 / w < 20 is 5 (59 / 2 = 29): buckets 0-4 .. 55-59 (12),
  // then the tail, 60-5000, which holds user 200 alone.
  // Every experiment of user u lists compounds (u % 3) + 1 and 7, so both tie on top for each
  // user with experiments: compound 7 is on top for all 196 of them, and compound c for the users
  // with u % 3 = c - 1.
  const users = [['user_id', 'name', 'email', 'signup_date']];
  const experiments = [['experiment_id', 'user_id', 'experiment_compound_ids', 'experiment_run_time']];
  const counts = new Map<number, number>();
  let id = 0;
  for (let u = 1; u <= 200; u++) {
    users.push([String(u), `User ${u}`, `u${u}@example.org`, '2023-01-01']);
    const n = u === 200 ? 5000 : (u - 1) % 60;
    counts.set(u, n);
    for (let i = 0; i < n; i++) experiments.push([String(++id), String(u), `7;${(u % 3) + 1}`, '1']);
  }
  const compounds = [
    ['compound_id', 'compound_name', 'compound_structure'],
    ['1', 'One', 'X'],
    ['2', 'Two', 'X'],
    ['3', 'Three', 'X'],
    ['7', 'Seven', 'X'],
  ];
  const dir = await dataDir({ users, experiments, compounds });
  try {
    const posted = (await (await createApp(database, options(dir)).request('/data', { method: 'POST' })).json()) as any;
    assert.equal(posted.status, 'succeeded');
    const got = await summary();
    assert.equal(got.run_id, posted.run_id);
    assert.deepEqual([got.users, got.experiments], [200, id]);

    const expected: { min_experiments: number; max_experiments: number; users: number }[] = [];
    for (let lo = 0; lo < 60; lo += 5) expected.push({ min_experiments: lo, max_experiments: lo + 4, users: 0 });
    expected.push({ min_experiments: 60, max_experiments: 5000, users: 0 });
    for (const n of counts.values()) expected[Math.min(Math.floor(n / 5), 12)]!.users++;
    assert.deepEqual(got.histogram, expected);
    assert.equal(expected[0]!.users, 20, 'users 1-5, 61-65, 121-125 and 181-185 ran 0 to 4 experiments');
    assert.equal(expected[12]!.users, 1);

    const withExperiments = [...counts].filter(([, n]) => n > 0).map(([u]) => u);
    assert.equal(withExperiments.length, 196);
    const per = (c: number) => withExperiments.filter((u) => (u % 3) + 1 === c).length;
    // u % 3 = 0: 3, 6 .. 198 (66); = 1: 1, 4 .. 199 (67) less 1, 61, 121, 181 (63); = 2: 2 .. 200 (67).
    assert.deepEqual([per(1), per(2), per(3)], [66, 63, 67]);
    assert.deepEqual(got.top_compounds, [
      { compound_id: 7, compound_name: 'Seven', users: 196 },
      { compound_id: 3, compound_name: 'Three', users: 67 },
      { compound_id: 1, compound_name: 'One', users: 66 },
      { compound_id: 2, compound_name: 'Two', users: 63 },
    ]);
    // The features themselves agree.
    const answer = await features(database);
    assert.deepEqual(answer.users.find((u) => u.user_id === 5)?.top_compound_ids, [3, 7]);
  } finally {
    await removeDir(dir);
  }
});

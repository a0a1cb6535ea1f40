import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { DbHandle } from '../../src/db/connect.js';
import { CHALLENGE_DIR, features, query, run, testDatabase } from '../helpers.js';

// Worked out by hand from test/fixtures/challenge (the brief's files, byte for byte). Each experiment lists 2 or 3 compounds:
//   user 1: experiments 1 (1;2, 10) and 2 (2;3, 15) -> compound 2 in both, 1 and 3 in one each.
//   every other user ran one experiment, so each of its compounds counts 1: all of them tie.
// 11 experiments / 10 users = 1.1.
const expected = [
  [1, 'Alice', 2, 12.5, 2, 'Compound B', [2], 2],
  [2, 'Bob', 1, 20, 1, 'Compound A', [1, 3], 1],
  [3, 'Carol', 1, 25, 2, 'Compound B', [2, 3], 1],
  [4, 'Dave', 1, 30, 1, 'Compound A', [1, 2, 3], 1],
  [5, 'Eve', 1, 35, 2, 'Compound B', [2, 3], 1],
  [6, 'Frank', 1, 40, 1, 'Compound A', [1, 3], 1],
  [7, 'Grace', 1, 45, 2, 'Compound B', [2, 3], 1],
  [8, 'Heidi', 1, 50, 1, 'Compound A', [1, 2], 1],
  [9, 'Ivan', 1, 55, 2, 'Compound B', [2, 3], 1],
  [10, 'Judy', 1, 60, 1, 'Compound A', [1, 3], 1],
] as const;

let database: DbHandle;
before(async () => {
  database = await testDatabase();
});
after(() => database.close());

test("the fixtures keep the brief's bytes: blank first line, `,\\t` separators, CRLF, no final newline", async () => {
  const users = await readFile(path.join(CHALLENGE_DIR, 'users.csv'), 'latin1');
  assert.ok(users.startsWith('\r\nuser_id,\tname,\temail,\tsignup_date\r\n'), 'blank first line, then the `,\\t` header');
  for (const file of ['users.csv', 'user_experiments.csv', 'compounds.csv']) {
    const text = await readFile(path.join(CHALLENGE_DIR, file), 'latin1');
    assert.equal(text.replaceAll('\r\n', '').includes('\n'), false, `${file}: every line end is CRLF`);
    assert.ok(!text.endsWith('\n'), `${file}: no final newline`);
  }
});

test('the challenge files give the hand-computed features for every user', async () => {
  const result = await run(database, CHALLENGE_DIR);
  assert.equal(result.status, 'succeeded');
  assert.deepEqual(result.files, {
    'users.csv': { bytes: 432, rows_read: 10, rows_loaded: 10, rows_rejected: 0 },
    'compounds.csv': { bytes: 122, rows_read: 3, rows_loaded: 3, rows_rejected: 0 },
    'user_experiments.csv': { bytes: 238, rows_read: 11, rows_loaded: 11, rows_rejected: 0 },
  });

  const answer = await features(database);
  assert.equal(answer.average_experiments_per_user, 1.1);
  assert.equal(answer.run?.run_id, result.run_id);
  assert.deepEqual(
    answer.users.map((u) => [
      u.user_id,
      u.name,
      u.total_experiments,
      u.average_run_time,
      u.top_compound_id,
      u.top_compound_name,
      u.top_compound_ids,
      u.top_compound_experiments,
    ]),
    expected,
  );
  assert.equal(answer.users.filter((u) => u.top_compound_ids.length > 1).length, 9);
  assert.equal(answer.users[0]!.email, 'alice@example.com');
});

test('psql readers see the same features in the features views', async () => {
  assert.equal((await run(database, CHALLENGE_DIR)).status, 'succeeded');
  const [average] = await query(database, 'SELECT average_experiments_per_user::text AS avg FROM features.average_experiments_per_user');
  assert.equal(Number(average!.avg), 1.1);
  const counts = await query(database, 'SELECT user_id, total_experiments FROM features.user_experiment_counts ORDER BY user_id');
  assert.deepEqual(
    counts.map((r) => [r.user_id, r.total_experiments]),
    expected.map((e) => [e[0], e[2]]),
  );
  const tops = await query(database, 'SELECT user_id, top_compound_ids FROM features.user_top_compounds ORDER BY user_id');
  assert.deepEqual(
    tops.map((r) => [r.user_id, r.top_compound_ids]),
    expected.map((e) => [e[0], e[6]]),
  );
  const [core] = await query(
    database,
    'SELECT (SELECT count(*) FROM core.users) AS users, (SELECT count(*) FROM core.experiments) AS experiments',
  );
  assert.deepEqual(core, { users: 10, experiments: 11 });
});

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { stat } from 'node:fs/promises';
import path from 'node:path';
import type { DbHandle } from '../../src/db/connect.js';
import { RunFailedError } from '../../src/run/pipeline.js';
import { listRejects } from '../../src/read/runs.js';
import { dataDir, features, removeDir, run, testDatabase } from '../helpers.js';

let database: DbHandle;
before(async () => {
  database = await testDatabase();
});
after(() => database.close());

const rejectsOf = async (runId: number) =>
  (await listRejects(database.db, runId, { limit: 100, offset: 0 })).map((r) => [r.file, r.line, r.reason, r.raw]);

test('LF, BOM, quoting, spaces, reordered and extra columns all load', async () => {
  const dir = await dataDir({
    users:
      '\ufeffsignup_date , Email,user_id,  name ,notes\n2023-01-01, a@x.org ,  1 ,"Doe, Jane",x\n\n2023-02-01,\t"b@x.org",2,"Smith ""Bob""",\n',
    compounds: 'compound_name,compound_id,compound_structure\n"Aspirin, plain",10,C9H8O4\nCaffeine,2,C8H10N4O2',
    experiments: 'experiment_run_time,experiment_compound_ids,user_id,experiment_id\n1.5,"10; 2",1,1\n3, 2 ,2,2\n',
  });
  const result = await run(database, dir);
  assert.equal(result.status, 'succeeded');
  assert.deepEqual(await rejectsOf(result.run_id), []);
  const { users, average_experiments_per_user } = await features(database);
  assert.equal(average_experiments_per_user, 1);
  assert.deepEqual(
    users.map((u) => [u.user_id, u.name, u.email, u.average_run_time, u.top_compound_ids, u.top_compound_name]),
    [
      [1, 'Doe, Jane', 'a@x.org', 1.5, [2, 10], 'Caffeine'],
      [2, 'Smith "Bob"', 'b@x.org', 3, [2], 'Caffeine'],
    ],
  );
  await removeDir(dir);
});

test('every reject reason, with the physical line number and the raw line', async () => {
  const dir = await dataDir({
    users: [
      '',
      'user_id,\tname,\temail,\tsignup_date',
      '1,\tAnn,\tann@x.org,\t2023-01-01',
      'abc,\tBad,\tbad@x.org,\t2023-01-01',
      '0,\tZero,\tz@x.org,\t2023-01-01',
      '2,\tBob,\tbob@x.org,\t2023-02-30',
      '1,\tAnn again,\tann2@x.org,\t2023-01-02',
      '3,\tCid',
      '',
      '010,\tTen,\tten@x.org,\t2024-02-29',
      '10,\tTen again,\tten2@x.org,\t2024-03-01',
      '9007199254740992,\tHuge,\th@x.org,\t2024-01-01',
    ].join('\r\n'),
    compounds: ['compound_id,\tcompound_name,\tcompound_structure', '1,\tA,\tX', '2,\tB,\tY', '2,\tB2,\tY2', '-3,\tC,\tZ'].join('\r\n'),
    experiments: [
      'experiment_id,\tuser_id,\texperiment_compound_ids,\texperiment_run_time',
      '1,\t1,\t1;2,\t10',
      '2,\t99,\t1,\t10',
      '3,\t1,\t1;7,\t10',
      '4,\t1,\t,\t10',
      '5,\t1,\t1;x,\t10',
      '6,\t1,\t1,\t-1',
      '7,\t1,\t1,\tNaN',
      '1,\t10,\t2,\t5',
      '8,\tx,\t1,\t5',
      '9,\t10,\t2;2,\t1e3',
      '11,\t10,\t2,\t-0',
      '12,\t10,\t2,\tInfinity',
      '13,\t2,\t1,\t1',
    ].join('\r\n'),
  });
  const result = await run(database, dir, { maxRejectRatio: 1 });
  assert.equal(result.status, 'succeeded');
  // Causes before consequences: users.csv, compounds.csv, then the experiments, each in line order.
  assert.deepEqual(await rejectsOf(result.run_id), [
    ['users.csv', 4, "user_id 'abc' is not a positive integer", 'abc,\tBad,\tbad@x.org,\t2023-01-01'],
    ['users.csv', 5, "user_id '0' is not a positive integer", '0,\tZero,\tz@x.org,\t2023-01-01'],
    ['users.csv', 6, "signup_date '2023-02-30' is not a valid date (YYYY-MM-DD)", '2,\tBob,\tbob@x.org,\t2023-02-30'],
    ['users.csv', 7, 'user_id 1 repeats the user on line 3', '1,\tAnn again,\tann2@x.org,\t2023-01-02'],
    ['users.csv', 8, 'has 2 fields but the header has 4', '3,\tCid'],
    ['users.csv', 11, 'user_id 10 repeats the user on line 10', '10,\tTen again,\tten2@x.org,\t2024-03-01'],
    ['users.csv', 12, "user_id '9007199254740992' is not a positive integer", '9007199254740992,\tHuge,\th@x.org,\t2024-01-01'],
    ['compounds.csv', 4, 'compound_id 2 repeats the compound on line 3', '2,\tB2,\tY2'],
    ['compounds.csv', 5, "compound_id '-3' is not a positive integer", '-3,\tC,\tZ'],
    ['user_experiments.csv', 3, 'user_id 99 is not an accepted user', '2,\t99,\t1,\t10'],
    ['user_experiments.csv', 4, 'compound 7 is not an accepted compound', '3,\t1,\t1;7,\t10'],
    ['user_experiments.csv', 5, 'experiment_compound_ids is empty', '4,\t1,\t,\t10'],
    ['user_experiments.csv', 6, `experiment_compound_ids '1;x' is not a ";"-separated list of positive integers`, '5,\t1,\t1;x,\t10'],
    ['user_experiments.csv', 7, "experiment_run_time '-1' is not a non-negative number", '6,\t1,\t1,\t-1'],
    ['user_experiments.csv', 8, "experiment_run_time 'NaN' is not a non-negative number", '7,\t1,\t1,\tNaN'],
    ['user_experiments.csv', 9, 'experiment_id 1 repeats the experiment on line 2', '1,\t10,\t2,\t5'],
    ['user_experiments.csv', 10, "user_id 'x' is not a positive integer", '8,\tx,\t1,\t5'],
    ['user_experiments.csv', 13, "experiment_run_time 'Infinity' is not a non-negative number", '12,\t10,\t2,\tInfinity'],
    // A knock-on reject names its cause: user 2 is in users.csv, on a line that was rejected.
    [
      'user_experiments.csv',
      14,
      "user_id 2 was rejected: users.csv line 6: signup_date '2023-02-30' is not a valid date (YYYY-MM-DD)",
      '13,\t2,\t1,\t1',
    ],
  ]);
  const bytes = (await stat(path.join(dir, 'users.csv'))).size;
  assert.deepEqual(result.files['users.csv'], { bytes, rows_read: 9, rows_loaded: 2, rows_rejected: 7 });
  const { users } = await features(database);
  // 010 is user 10; 1e3 and -0 are numbers; "2;2" counts compound 2 once for that experiment.
  assert.deepEqual(
    users.map((u) => [u.user_id, u.total_experiments, u.average_run_time, u.top_compound_ids, u.top_compound_experiments]),
    [
      [1, 1, 10, [1, 2], 1],
      [10, 2, 500, [2], 2],
    ],
  );
  await removeDir(dir);
});

test('ids compare as integers: 10 is not 1, and 2 sorts before 10', async () => {
  const dir = await dataDir({
    users: [
      ['user_id', 'name', 'email', 'signup_date'],
      ['10', 'Ten', 't@x', '2023-01-01'],
      ['2', 'Two', 'w@x', '2023-01-01'],
      ['1', 'One', 'o@x', '2023-01-01'],
    ],
    compounds: [
      ['compound_id', 'compound_name', 'compound_structure'],
      ['10', 'C10', 'X'],
      ['2', 'C2', 'Y'],
      ['1', 'C1', 'Z'],
    ],
    experiments: [
      ['experiment_id', 'user_id', 'experiment_compound_ids', 'experiment_run_time'],
      ['1', '10', '10;2', '1'],
      ['2', '10', '10;2', '1'],
      ['3', '1', '10;1', '1'],
    ],
  });
  await run(database, dir);
  const { users } = await features(database);
  assert.deepEqual(
    users.map((u) => [u.user_id, u.total_experiments, u.top_compound_id, u.top_compound_name, u.top_compound_ids]),
    [
      [1, 1, 1, 'C1', [1, 10]],
      [2, 0, null, null, []],
      [10, 2, 2, 'C2', [2, 10]],
    ],
  );
  await removeDir(dir);
});

test('a user with no experiments has zero, nulls and an empty tie list', async () => {
  const dir = await dataDir({
    users: [
      ['user_id', 'name', 'email', 'signup_date'],
      ['1', 'Ann', 'a@x', '2023-01-01'],
      ['2', 'Bob', 'b@x', '2023-01-01'],
    ],
  });
  await run(database, dir);
  const { users, average_experiments_per_user } = await features(database);
  assert.equal(average_experiments_per_user, 0.5);
  assert.deepEqual(users[1], {
    user_id: 2,
    name: 'Bob',
    email: 'b@x',
    total_experiments: 0,
    average_run_time: null,
    top_compound_id: null,
    top_compound_name: null,
    top_compound_ids: [],
    top_compound_experiments: null,
  });
  await removeDir(dir);
});

test('more rejects than MAX_REJECT_RATIO allows: rejects are kept, nothing is published', async () => {
  const good = await dataDir({});
  await run(database, good);
  const before = await features(database);
  const wrong = await dataDir({
    users: [
      ['user_id', 'name', 'email', 'signup_date'],
      ['x', 'a', 'b', 'c'],
      ['y', 'a', 'b', 'c'],
      ['1', 'A', 'a@x', '2023-01-01'],
    ],
  });
  let failedRunId = 0;
  await assert.rejects(run(database, wrong, { maxRejectRatio: 0.5 }), (error: unknown) => {
    assert.ok(error instanceof RunFailedError);
    assert.match(error.message, /users\.csv: 2 of 3 rows were rejected, more than MAX_REJECT_RATIO=0\.5 allows/);
    failedRunId = error.runId;
    return true;
  });
  assert.deepEqual(await features(database), before);
  assert.deepEqual(
    (await rejectsOf(failedRunId)).map(([file, line, reason]) => [file, line, reason]),
    [
      ['users.csv', 2, "user_id 'x' is not a positive integer"],
      ['users.csv', 3, "user_id 'y' is not a positive integer"],
    ],
    'the failed run keeps its rejects',
  );
  await Promise.all([removeDir(good), removeDir(wrong)]);
});

// The loader's typing layer (src/load/typed-rows.ts) is only a fast path: rows it proves valid skip
// the SQL checks. It must never change a result. Hostile generated files are run with the fast path
// on and off (ETL_TYPED_FAST_PATH=0: every row is judged by the SQL) and every output must match:
// rejects (line, reason, raw, raw_bytes), the typed core rows and the features.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { DbHandle } from '../../src/db/connect.js';
import { dataDir, features, query, removeDir, run, testDatabase } from '../helpers.js';
import { mulberry32 } from '../../tools/generate.js';
import { IdSet } from '../../src/load/typed-rows.js';

let database: DbHandle;
before(async () => {
  database = await testDatabase();
});
after(() => database.close());

/** Deterministic, so a failure can be replayed. */
const rng = mulberry32;

function hostileFiles(seed: number) {
  const r = rng(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;
  const chance = (p: number) => r() < p;
  const csv = (v: string) => (/[",\r\n]/.test(v) || chance(0.05) ? `"${v.replace(/"/g, '""')}"` : v);

  const users: string[] = ['user_id,\tname,\temail,\tsignup_date'];
  let uid = 0;
  for (let i = 0; i < 400; i++) {
    uid += chance(0.97) ? 1 : -Math.floor(r() * 20); // some go back: repeats or late ids
    const id = chance(0.9)
      ? (chance(0.1) ? '00' : '') + Math.max(uid, 1)
      : pick(['abc', '0', '-5', '9007199254740992', '9007199254740991', '', ' 7', '1e3', '0000000000000000042']);
    const name = chance(0.97)
      ? pick(['Ann', 'Ann', 'Ann', 'Ann', 'Ann', 'Ann', 'Doe, Jane', 'Tab\there', 'Back\\slash', 'Quote "q"', 'é'.repeat(600), 'ü'.repeat(1001), 'n'.repeat(1000), 'n'.repeat(1001)])
      : '';
    const date = chance(0.85) ? '2023-01-01' : pick(['2023-01-01', '2024-02-29', '2023-02-29', '2023-02-30', '0000-01-01', '2023-13-01', '2023-1-01', '9999-12-31', '0001-01-01', 'x']);
    users.push([id, csv(name), csv(`u${i}@x.org`), date].join(',\t'));
    if (chance(0.02)) users.push('');
    if (chance(0.01)) users.push('1,\ttoo few');
  }

  const compounds: string[] = ['compound_id,\tcompound_name,\tcompound_structure'];
  for (let i = 1; i <= 40; i++) {
    const id = chance(0.95) ? String(chance(0.05) ? Math.max(1, i - 3) : i) : pick(['-3', 'x', '0', '007']);
    compounds.push([id, csv(chance(0.9) ? 'Aspirin' : pick(['Caffeine, pure', 'c'.repeat(1001)])), chance(0.95) ? 'C9H8O4' : pick(['s'.repeat(100_001), ''])].join(',\t'));
  }

  const experiments: string[] = ['experiment_id,\tuser_id,\texperiment_compound_ids,\texperiment_run_time'];
  let eid = 0;
  for (let i = 0; i < 3000; i++) {
    eid += chance(0.99) ? 1 : -Math.floor(r() * 30);
    const id = chance(0.99) ? String(Math.max(eid, 1)) : pick(['x', '0', '9007199254740992', '']);
    const user = chance(0.97) ? String(1 + Math.floor(r() * (uid + 2))) : pick(['x', '0', '00012', '9007199254740991']);
    const n = 1 + Math.floor(r() * 4);
    const items = Array.from({ length: n }, () => (chance(0.99) ? String(1 + Math.floor(r() * (chance(0.98) ? 30 : 45))) : pick(['x', '0', '007', ''])));
    if (chance(0.1)) items.push(items[0]!); // a compound listed twice
    let list = items.join(chance(0.1) ? ' ; ' : ';');
    if (chance(0.02)) list = pick(['', ';', ' ; ;', '1;;2', '1;']);
    const time = chance(0.9)
      ? pick(['12', '8.5', '0', '4.25'])
      : pick(['1e3', '-0', '+3', '-1', 'NaN', 'Infinity', '.5', '5.', '1e999', '1E+05', '-0.0e5', '0000000000000000012.5', '1.2.3', '123456789012345.123456789012345', '1e-99', '']);
    experiments.push([id, user, csv(list), time].join(',\t'));
  }
  return { users: users.join('\r\n'), compounds: compounds.join('\r\n'), experiments: experiments.join('\r\n') };
}

/** Everything a run produced that the fast path could affect. */
async function outcome(runId: number) {
  const p = [runId];
  return {
    rejects: await query(database, 'SELECT file, line, reason, raw, raw_bytes FROM etl.rejects WHERE run_id = $1 ORDER BY file, line', p),
    users: await query(database, 'SELECT user_id, name, email, signup_date::text, line FROM core.users WHERE run_id = $1 ORDER BY line', p),
    compounds: await query(database, 'SELECT compound_id, compound_name, compound_structure, line FROM core.compounds WHERE run_id = $1 ORDER BY line', p),
    experiments: await query(database, 'SELECT experiment_id, user_id, compound_ids, run_time, line FROM core.experiments WHERE run_id = $1 ORDER BY line', p),
    features: (await features(database)).users,
  };
}

async function runWith(fastPath: boolean, dir: string) {
  const result = await run(database, dir, { maxRejectRatio: 1, typedFastPath: fastPath });
  assert.equal(result.status, 'succeeded');
  const textRows = await query<{ n: number }>(database, 'SELECT count(*)::int AS n FROM staging.experiments');
  return { result, textRows: textRows[0]!.n, ...(await outcome(result.run_id)) };
}

for (const seed of [1, 2, 3]) {
  test(`hostile files (seed ${seed}): the same rejects, core rows and features with and without the fast path`, { timeout: 120_000 }, async () => {
    const dir = await dataDir(hostileFiles(seed));
    const fast = await runWith(true, dir);
    const slow = await runWith(false, dir);
    // Both paths carry plenty of rows (the text path also valid ones: late ids, odd spellings).
    assert.ok(fast.textRows < slow.textRows * 0.8 && fast.textRows > 300, `${fast.textRows} of ${slow.textRows} rows left as text`);
    assert.ok(fast.rejects.length > 100, 'the files are hostile enough to reject many rows');
    assert.deepEqual(fast.rejects, slow.rejects);
    assert.deepEqual(fast.users, slow.users);
    assert.deepEqual(fast.compounds, slow.compounds);
    assert.deepEqual(fast.experiments, slow.experiments);
    assert.deepEqual(fast.features, slow.features);
    assert.deepEqual(fast.result.files, slow.result.files);
    await removeDir(dir);
  });
}

test("IdSet's caps: once its record of ids overflows, out-of-order rows go to the SQL and the results stay the same", { timeout: 180_000 }, async () => {
  // Ids from 2^27 up are kept in a Set of at most 100,000 (src/load/typed-rows.ts): one more and
  // "not recorded" no longer proves "not seen", so only an id above all earlier ones is typed.
  const B = 2 ** 27;
  const ids = new IdSet();
  for (let i = 1; i <= 100_000; i++) ids.add(B + i);
  assert.equal(ids.lossy, false);
  ids.add(B + 100_001);
  ids.add(7);
  assert.deepEqual([ids.lossy, ids.has(B + 100_001), ids.has(B + 5), ids.has(7)], [true, false, true, true]);

  const users = ['user_id,\tname,\temail,\tsignup_date'];
  for (let i = 1; i <= 100_001; i++) users.push(`${B + i},\tu,\te,\t2023-01-01`); // line i + 1
  users.push(`${B + 100_001},\tlost repeat,\te,\t2023-01-01`); // line 100003: repeats the id the Set could not keep
  users.push(`${B + 5},\tkept repeat,\te,\t2023-01-01`); // line 100004: repeats line 6
  users.push('7,\tlate,\te,\t2023-01-01'); // line 100005: new, but below the largest id so far
  const experiments = [
    'experiment_id,\tuser_id,\texperiment_compound_ids,\texperiment_run_time',
    `1,\t${B + 100_001},\t1,\t5`, // a user the typer's record of accepted users lost
    `2,\t${B + 1},\t1,\t5`,
    '3,\t7,\t1,\t5', // a user only the SQL accepted
  ];
  const dir = await dataDir({ users: users.join('\r\n'), experiments: experiments.join('\r\n') });
  const textRows = async () =>
    (await query<{ users: number; experiments: number }>(
      database,
      'SELECT (SELECT count(*)::int FROM staging.users) AS users, (SELECT count(*)::int FROM staging.experiments) AS experiments',
    ))[0];
  const fast = await runWith(true, dir);
  assert.deepEqual(await textRows(), { users: 3, experiments: 2 }, 'exactly the rows the overflowed record cannot vouch for went to the SQL');
  const slow = await runWith(false, dir);
  assert.deepEqual(await textRows(), { users: 100_004, experiments: 3 });

  assert.deepEqual(fast.rejects, [
    { file: 'users.csv', line: 100_003, reason: `user_id ${B + 100_001} repeats the user on line 100002`, raw: users[100_002], raw_bytes: users[100_002]!.length },
    { file: 'users.csv', line: 100_004, reason: `user_id ${B + 5} repeats the user on line 6`, raw: users[100_003], raw_bytes: users[100_003]!.length },
  ]);
  const byId = new Map(fast.features.map((u) => [u.user_id, u]));
  assert.equal(byId.size, 100_002);
  assert.deepEqual([byId.get(B + 100_001)?.name, byId.get(B + 100_001)?.total_experiments], ['u', 1]);
  assert.deepEqual([byId.get(7)?.name, byId.get(7)?.total_experiments], ['late', 1]);
  assert.deepEqual(fast.rejects, slow.rejects);
  assert.deepEqual(fast.users, slow.users);
  assert.deepEqual(fast.experiments, slow.experiments);
  assert.deepEqual(fast.features, slow.features);
  await removeDir(dir);
});

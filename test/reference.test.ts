// The SQL against an independent, deliberately naive TypeScript reading of the feature definitions,
// on generated data with heavy ties and skew.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { generate } from '../bench/generate.js';
import type { DbHandle } from '../src/db/handle.js';
import { features, run, testDatabase } from './helpers.js';

let database: DbHandle;
let dir: string;
before(async () => {
  database = await testDatabase();
  dir = await mkdtemp(path.join(os.tmpdir(), 'lab-etl-ref-'));
});
after(async () => {
  await database.close();
  await rm(dir, { recursive: true, force: true });
});

async function rows(file: string): Promise<string[][]> {
  const lines = (await readFile(path.join(dir, file), 'utf8')).split('\r\n').filter((l) => l !== '');
  return lines.slice(1).map((l) => l.split(',\t'));
}

async function reference() {
  const users = await rows('users.csv');
  const compounds = new Map((await rows('compounds.csv')).map(([id, name]) => [Number(id), name!]));
  const experiments = await rows('user_experiments.csv');
  const result = users.map(([id, name, email]) => {
    const mine = experiments.filter((e) => Number(e[1]) === Number(id));
    const counts = new Map<number, number>();
    for (const e of mine) for (const c of new Set(e[2]!.split(';').map(Number))) counts.set(c, (counts.get(c) ?? 0) + 1);
    const best = Math.max(0, ...counts.values());
    const top = [...counts].filter(([, n]) => n === best).map(([c]) => c).sort((a, b) => a - b);
    return {
      user_id: Number(id),
      name,
      email,
      total_experiments: mine.length,
      average_run_time: mine.length ? mine.reduce((s, e) => s + Number(e[3]), 0) / mine.length : null,
      top_compound_id: top[0] ?? null,
      top_compound_name: top.length ? compounds.get(top[0]!) : null,
      top_compound_ids: top,
      top_compound_experiments: top.length ? best : null,
    };
  });
  return { users: result.sort((a, b) => a.user_id - b.user_id), average: experiments.length / users.length };
}

for (const [seed, compounds] of [[1, 5], [7, 60]] as const) {
  test(`generated data (seed ${seed}, ${compounds} compounds) matches the reference for every user`, async () => {
    await generate({ users: 400, experiments: 3000, compounds, out: dir, seed });
    const result = await run(database, dir);
    assert.equal(result.status, 'succeeded');
    const expected = await reference();
    const { users, average_experiments_per_user } = await features(database);
    assert.equal(average_experiments_per_user, expected.average);
    assert.equal(users.length, expected.users.length);
    assert.ok(expected.users.some((u) => u.top_compound_ids.length > 1), 'the data has ties');
    assert.ok(expected.users.some((u) => u.total_experiments === 0), 'the data has users without experiments');
    for (const [i, user] of users.entries()) {
      const want = expected.users[i]!;
      assert.ok(Math.abs((user.average_run_time ?? 0) - (want.average_run_time ?? 0)) < 1e-9, `user ${want.user_id} average`);
      assert.deepEqual({ ...user, average_run_time: null }, { ...want, average_run_time: null }, `user ${want.user_id}`);
    }
  });
}

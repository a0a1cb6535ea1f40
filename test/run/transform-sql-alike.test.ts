// Parts of sql/transform/ written out more than once on purpose, held alike here (no database):
// - 070 writes the same SELECT twice, one per half of the users, so that PostgreSQL runs the halves
//   side by side (a Parallel Append); the two must differ only in which half they read.
// - 020, 030 and 060 each decide which valid row of an id wins (the first, typed rows included) in
//   the same two CTEs; a function would hide the window from the planner, so it is written out in
//   each, and must stay the same rule but for the table, the id column and the noun in the message.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { TRANSFORM_DIR } from '../../src/db/sql-paths.js';

const read = (file: string) => readFile(path.join(TRANSFORM_DIR, file), 'utf8');
const withoutComments = (text: string) => text.replace(/--[^\n]*/g, '');
const squeezed = (text: string) => text.replace(/\s+/g, ' ').trim();

/** The two branches of 070's UNION ALL, each with its half's bit replaced by HALF, and the bits. */
function halves(text: string) {
  const body = withoutComments(text);
  const start = body.indexOf('CREATE TABLE work.user_features_by_half AS');
  const end = body.lastIndexOf('ORDER BY user_id');
  assert.ok(start >= 0 && end > start, '070 is CREATE TABLE ... AS <half> UNION ALL <half> ORDER BY user_id');
  const branches = body.slice(start + 'CREATE TABLE work.user_features_by_half AS'.length, end).split(/^UNION ALL$/m);
  assert.equal(branches.length, 2, 'two branches');
  return branches.map((branch) => {
    const bits = [...branch.matchAll(/\(hashint8\([a-z.]*user_id\) & 1\) = ([01])/g)].map((m) => m[1]);
    return { bits, text: squeezed(branch.replace(/(\(hashint8\([a-z.]*user_id\) & 1\) = )[01]/g, '$1HALF')) };
  });
}

test("070's two halves are the same SELECT but for the half of the users each reads", async () => {
  const text = await read('070-user-features-by-half.sql');
  const [even, odd] = halves(text);
  assert.deepEqual(even!.bits, ['0', '0'], 'the first half: bit 0, in its experiments and its users');
  assert.deepEqual(odd!.bits, ['1', '1'], 'the second half: bit 1, in both places');
  assert.equal(odd!.text, even!.text);
  // The comparison sees a change made to one half only.
  const changed = halves(text.replace(/avg\(run_time\)(?![\s\S]*avg\(run_time\))/, 'max(run_time)'));
  assert.notEqual(changed[1]!.text, changed[0]!.text);
});

const FIRST_WINS = [
  { file: '020-users.sql', table: 'users', id: 'user_id', noun: 'user' },
  { file: '030-compounds.sql', table: 'compounds', id: 'compound_id', noun: 'compound' },
  { file: '060-experiments.sql', table: 'experiments', id: 'experiment_id', noun: 'experiment' },
];

/** The typed_first and judged CTEs of a step, its own names replaced by TABLE, ID and NOUN. */
function firstWins(text: string, { table, id, noun }: (typeof FIRST_WINS)[number]): string {
  const body = withoutComments(text);
  const start = body.indexOf('typed_first AS (');
  const end = body.indexOf('rejected AS (', start);
  assert.ok(start >= 0 && end > start, 'the step has typed_first, judged and rejected CTEs in that order');
  return squeezed(
    body
      .slice(start, end)
      .replaceAll(`work.${table} `, 'work.TABLE ')
      .replaceAll(`w.${id} `, 'w.ID ')
      .replaceAll(`'${id} %s repeats the ${noun} on line %s'`, "'ID %s repeats the NOUN on line %s'"),
  );
}

test('020, 030 and 060 decide which row of an id is accepted by one rule: the first valid one, typed rows included', async () => {
  const [users, ...others] = await Promise.all(
    FIRST_WINS.map(async (step) => ({ file: step.file, rule: firstWins(await read(step.file), step) })),
  );
  assert.match(users!.rule, /least\(f\.first_line, min\(c\.line\) FILTER \(WHERE c\.problem IS NULL\) OVER \(PARTITION BY c\.id\)\)/);
  for (const other of others) assert.equal(other.rule, users!.rule, `${other.file} vs ${users!.file}`);
  // The comparison sees a rule changed in one file.
  const changed = firstWins((await read('030-compounds.sql')).replace('min(c.line)', 'max(c.line)'), FIRST_WINS[1]!);
  assert.notEqual(changed, users!.rule);
});

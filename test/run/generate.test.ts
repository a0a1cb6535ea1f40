import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';

import { generate } from '../../tools/generate.js';

const USERS = 50;
const EXPERIMENTS = 200;
const COMPOUNDS = 10;
const SEP = ',\t';
const CRLF = '\r\n';
const FILES = ['users.csv', 'user_experiments.csv', 'compounds.csv'] as const;

let tmp = '';
let dirA = '';
let text: Record<string, string> = {};

before(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'generate-test-'));
  dirA = path.join(tmp, 'a');
  const result = await generate({ users: USERS, experiments: EXPERIMENTS, compounds: COMPOUNDS, out: dirA, seed: 7 });
  text = {};
  for (const f of FILES) {
    const buf = await readFile(path.join(dirA, f));
    assert.equal(result.files[f], buf.length, `reported size of ${f}`);
    assert.equal((await stat(path.join(dirA, f))).size, buf.length);
    text[f] = buf.toString('latin1');
  }
});

after(async () => {
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

/** Split a file into lines, checking CRLF everywhere and no trailing newline. */
function lines(name: string): string[] {
  const t = text[name];
  assert.ok(t !== undefined, `${name} was read`);
  assert.ok(!t.endsWith('\n') && !t.endsWith('\r'), `${name} must not end with a newline`);
  // Every LF is preceded by CR and every CR is followed by LF.
  assert.equal(t.split('\n').length, t.split(CRLF).length, `${name}: bare LF`);
  assert.equal(t.split('\r').length, t.split(CRLF).length, `${name}: bare CR`);
  return t.split(CRLF);
}

function fields(line: string, n: number): string[] {
  const f = line.split(SEP);
  assert.equal(f.length, n, `expected ${n} ",\\t"-separated fields in ${JSON.stringify(line)}`);
  for (const v of f) assert.ok(!v.includes(',') && !v.includes('\t'), `stray separator in ${JSON.stringify(line)}`);
  return f;
}

test('users.csv: leading empty line, header, rows', () => {
  const t = text['users.csv'] ?? '';
  assert.ok(t.startsWith(`\r\nuser_id,\tname,\temail,\tsignup_date\r\n`), 'starts with CRLF then the header');
  const ls = lines('users.csv');
  assert.equal(ls[0], '');
  assert.equal(ls.length, 2 + USERS);
  for (let i = 1; i <= USERS; i++) {
    const [id, name, email, date] = fields(ls[i + 1] ?? '', 4);
    assert.equal(id, String(i));
    assert.equal(name, `User ${i}`);
    assert.equal(email, `user${i}@example.com`);
    assert.match(date ?? '', /^202[0-4]-\d\d-\d\d$/);
    assert.equal(new Date(`${date}T00:00:00Z`).toISOString().slice(0, 10), date, 'valid ISO date');
  }
});

test('compounds.csv: header and rows', () => {
  const ls = lines('compounds.csv');
  assert.equal(ls[0], 'compound_id,\tcompound_name,\tcompound_structure');
  assert.equal(ls.length, 1 + COMPOUNDS);
  for (let i = 1; i <= COMPOUNDS; i++) {
    const [id, name, structure] = fields(ls[i] ?? '', 3);
    assert.equal(id, String(i));
    assert.equal(name, `Compound ${i}`);
    assert.match(structure ?? '', /^C\d*H\d*(N\d*)?(O\d*)?(S\d*)?$/);
  }
});

test('user_experiments.csv: header, 1-4 distinct compounds in range, skewed users', () => {
  const ls = lines('user_experiments.csv');
  assert.equal(ls[0], 'experiment_id,\tuser_id,\texperiment_compound_ids,\texperiment_run_time');
  assert.equal(ls.length, 1 + EXPERIMENTS);
  const perUser = new Map<number, number>();
  for (let i = 1; i <= EXPERIMENTS; i++) {
    const [id, user, compounds, runTime] = fields(ls[i] ?? '', 4);
    assert.equal(id, String(i));
    const u = Number(user);
    assert.ok(Number.isInteger(u) && u >= 1 && u <= USERS, `user_id ${user} in 1..${USERS}`);
    perUser.set(u, (perUser.get(u) ?? 0) + 1);
    const ids = (compounds ?? '').split(';').map(Number);
    assert.ok(ids.length >= 1 && ids.length <= 4, `1-4 compounds: ${compounds}`);
    assert.equal(new Set(ids).size, ids.length, `distinct compounds: ${compounds}`);
    for (const c of ids) assert.ok(Number.isInteger(c) && c >= 1 && c <= COMPOUNDS, `compound ${c} in 1..${COMPOUNDS}`);
    assert.match(runTime ?? '', /^\d+(\.\d)?$/, 'run time: non-negative, integer or one decimal');
  }
  const absent = USERS - perUser.size;
  assert.ok(absent >= Math.floor(USERS / 10), `some users have no experiments (absent: ${absent})`);
  for (let u = 10; u <= USERS; u += 10) assert.ok(!perUser.has(u), `user ${u} has no experiments`);
  assert.ok(Math.max(...perUser.values()) >= 10, 'some users have many experiments');
});

test('same seed gives identical bytes, a different seed different bytes', async () => {
  const opts = { users: USERS, experiments: EXPERIMENTS, compounds: COMPOUNDS };
  const dirSame = path.join(tmp, 'same');
  const dirOther = path.join(tmp, 'other');
  await generate({ ...opts, out: dirSame, seed: 7 });
  await generate({ ...opts, out: dirOther, seed: 8 });
  for (const f of FILES) {
    const a = await readFile(path.join(dirA, f));
    assert.ok(a.equals(await readFile(path.join(dirSame, f))), `${f}: same seed, same bytes`);
  }
  for (const f of ['users.csv', 'user_experiments.csv'] as const) {
    const a = await readFile(path.join(dirA, f));
    assert.ok(!a.equals(await readFile(path.join(dirOther, f))), `${f}: different seed, different bytes`);
  }
});

test('default seed is 1 and an empty set still has headers and no trailing newline', async () => {
  const dir1 = path.join(tmp, 'seed1');
  const dirDefault = path.join(tmp, 'seeddefault');
  const opts = { users: 20, experiments: 30, compounds: 5 };
  await generate({ ...opts, out: dir1, seed: 1 });
  await generate({ ...opts, out: dirDefault });
  for (const f of FILES) {
    assert.ok((await readFile(path.join(dir1, f))).equals(await readFile(path.join(dirDefault, f))), f);
  }
  const empty = path.join(tmp, 'empty');
  await generate({ users: 0, experiments: 0, compounds: 0, out: empty });
  assert.equal(await readFile(path.join(empty, 'users.csv'), 'latin1'), '\r\nuser_id,\tname,\temail,\tsignup_date');
  assert.equal(
    await readFile(path.join(empty, 'user_experiments.csv'), 'latin1'),
    'experiment_id,\tuser_id,\texperiment_compound_ids,\texperiment_run_time',
  );
  assert.equal(await readFile(path.join(empty, 'compounds.csv'), 'latin1'), 'compound_id,\tcompound_name,\tcompound_structure');
});

// GET /runs/:id/diff and etl.run_diff, through the real service process, against a naive reading
// (in TypeScript) of two generated data sets that differ in known ways.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parse } from 'csv-parse/sync';
import { generate } from '../../tools/generate.js';
import type { DbHandle } from '../../src/db/connect.js';
import type { RunDiff, UserChange } from '../../src/http/schemas.js';
import type { z } from '@hono/zod-openapi';
import { query, removeDir, testDatabase } from '../helpers.js';
import { startService, stopService, type Service } from '../service.js';

type Diff = z.infer<typeof RunDiff>;
type Change = z.infer<typeof UserChange>;
type Side = NonNullable<Change['before']>;

let database: DbHandle;
let service: Service;
let dir: string;
const runs: number[] = [];

const FILES = { users: 'users.csv', experiments: 'user_experiments.csv', compounds: 'compounds.csv' } as const;
type Rows = Record<keyof typeof FILES, string[][]>;

/** The generator's files as rows of fields (its byte format: `,\t`, CRLF, a blank first line in users.csv). */
async function readRows(): Promise<Rows> {
  const read = async (file: string) =>
    (await readFile(path.join(dir, file), 'utf8'))
      .split('\r\n')
      .filter((l) => l !== '')
      .slice(1)
      .map((l) => l.split(',\t'));
  return { users: await read(FILES.users), experiments: await read(FILES.experiments), compounds: await read(FILES.compounds) };
}

async function writeRows(rows: Rows): Promise<void> {
  const headers = {
    users: 'user_id,\tname,\temail,\tsignup_date',
    experiments: 'experiment_id,\tuser_id,\texperiment_compound_ids,\texperiment_run_time',
    compounds: 'compound_id,\tcompound_name,\tcompound_structure',
  };
  for (const key of Object.keys(FILES) as (keyof typeof FILES)[]) {
    await writeFile(path.join(dir, FILES[key]), [headers[key], ...rows[key].map((r) => r.join(',\t'))].join('\r\n'));
  }
}

/** Each user's features, read naively from the rows (as test/run/reference.test.ts does). */
function naiveFeatures({ users, experiments, compounds }: Rows): Map<number, Side> {
  const names = new Map(compounds.map(([id, name]) => [Number(id), name!]));
  const byUser = new Map<number, string[][]>();
  for (const e of experiments) byUser.set(Number(e[1]), [...(byUser.get(Number(e[1])) ?? []), e]);
  return new Map(
    users.map(([id]) => {
      const mine = byUser.get(Number(id)) ?? [];
      const counts = new Map<number, number>();
      for (const e of mine) for (const c of new Set(e[2]!.split(';').map(Number))) counts.set(c, (counts.get(c) ?? 0) + 1);
      const best = Math.max(0, ...counts.values());
      const top = [...counts]
        .filter(([, n]) => n === best)
        .map(([c]) => c)
        .sort((a, b) => a - b);
      return [
        Number(id),
        {
          total_experiments: mine.length,
          average_run_time: mine.length ? mine.reduce((s, e) => s + Number(e[3]), 0) / mine.length : null,
          top_compound_id: top[0] ?? null,
          top_compound_name: top.length ? names.get(top[0]!)! : null,
          top_compound_ids: top,
          top_compound_experiments: top.length ? best : null,
        },
      ];
    }),
  );
}

/** The diff, naively: every user of either run, compared feature by feature. */
function naiveDiff(before: Rows, after: Rows) {
  const [b, a] = [naiveFeatures(before), naiveFeatures(after)];
  const changes: Change[] = [];
  const counts = { total_experiments: 0, average_run_time: 0, top_compound: 0 };
  for (const id of [...new Set([...b.keys(), ...a.keys()])].sort((x, y) => x - y)) {
    const [x, y] = [b.get(id), a.get(id)];
    if (!x || !y) {
      changes.push({ user_id: id, change: x ? 'removed' : 'added', before: x ?? null, after: y ?? null });
      continue;
    }
    const experiments = x.total_experiments !== y.total_experiments;
    const runTime = x.average_run_time !== y.average_run_time;
    const top = x.top_compound_ids.join() !== y.top_compound_ids.join() || x.top_compound_experiments !== y.top_compound_experiments;
    counts.total_experiments += Number(experiments);
    counts.average_run_time += Number(runTime);
    counts.top_compound += Number(top);
    if (experiments || runTime || top) changes.push({ user_id: id, change: 'changed', before: x, after: y });
  }
  const average = (rows: Rows) => rows.experiments.length / rows.users.length;
  return { changes, counts, average: { before: average(before), after: average(after) }, users: { before: b.size, after: a.size } };
}

/** Values equal, averages to 1e-9 (the SQL and this sum the same numbers, maybe not to the last bit). */
function assertSameChanges(got: Change[], want: Change[], label: string) {
  assert.deepEqual(
    got.map((c) => [c.user_id, c.change]),
    want.map((c) => [c.user_id, c.change]),
    `${label}: the same users, in order, with the same kind of change`,
  );
  for (const [i, change] of got.entries()) {
    for (const side of ['before', 'after'] as const) {
      const [g, w] = [change[side], want[i]![side]];
      if (!g || !w) {
        assert.equal(g, w, `${label}: user ${change.user_id} ${side}`);
        continue;
      }
      assert.ok(Math.abs((g.average_run_time ?? 0) - (w.average_run_time ?? 0)) < 1e-9, `${label}: user ${change.user_id} ${side} average`);
      assert.deepEqual({ ...g, average_run_time: null }, { ...w, average_run_time: null }, `${label}: user ${change.user_id} ${side}`);
    }
  }
}

let first: Rows;
let second: Rows;

const get = (url: string) => fetch(`${service.base}${url}`);
const diff = async (url: string) => {
  const response = await get(url);
  assert.equal(response.status, 200, await response.clone().text());
  return (await response.json()) as Diff;
};
const trigger = async () => {
  const response = await fetch(`${service.base}/data`, { method: 'POST' });
  const body = (await response.json()) as { run_id: number; status: string };
  assert.equal(response.status, 200, JSON.stringify(body));
  runs.push(body.run_id);
};

before(async () => {
  database = await testDatabase();
  dir = await mkdtemp(path.join(os.tmpdir(), 'lab-etl-diff-'));
  await generate({ users: 1500, experiments: 9000, compounds: 25, out: dir, seed: 3 });
  first = await readRows();
  // The known differences: users with an id divisible by 37 leave (with their experiments), 20
  // new users come (half with experiments), every 11th experiment runs 1.5 longer, every 13th
  // lists compound 1 alone instead, every 17th is gone, and compound 1 is renamed to a formula.
  const kept = first.experiments.filter((e) => Number(e[1]) % 37 !== 0 && Number(e[0]) % 17 !== 0);
  second = {
    users: [
      ...first.users.filter(([id]) => Number(id) % 37 !== 0),
      ...Array.from({ length: 20 }, (_, i) => [String(5001 + i), `New ${i}`, `new${i}@example.org`, '2024-01-01']),
    ],
    experiments: [
      ...kept.map(([id, user, compounds, time]) => [
        id!,
        user!,
        Number(id) % 13 === 0 ? '1' : compounds!,
        Number(id) % 11 === 0 ? String(Number(time) + 1.5) : time!,
      ]),
      ...Array.from({ length: 10 }, (_, i) => [String(90001 + i), String(5001 + i), '2;3', '7.25']),
    ],
    compounds: first.compounds.map(([id, name, structure]) => [id!, id === '1' ? '=HYPERLINK("x")' : name!, structure!]),
  };
  service = await startService({ DATABASE_URL: database.url, DATA_DIR: dir, KEEP_RUNS: '3' }, { timeoutMs: 60_000 });
  await trigger();
  await writeRows(second);
  await trigger();
});
after(async () => {
  if (service) await stopService(service);
  await database.close();
  await removeDir(dir);
});

test('GET /runs/:id/diff: the users added, removed and changed, the counts and the averages, as a naive reading finds them', async () => {
  const want = naiveDiff(first, second);
  // The differences are the ones made: every kind is there.
  assert.deepEqual(
    want.changes.filter((c) => c.change === 'added').map((c) => c.user_id),
    Array.from({ length: 20 }, (_, i) => 5001 + i),
  );
  assert.deepEqual(
    want.changes.filter((c) => c.change === 'removed').map((c) => c.user_id),
    first.users.map(([id]) => Number(id)).filter((id) => id % 37 === 0),
  );
  assert.ok(
    Object.values(want.counts).every((n) => n > 0),
    JSON.stringify(want.counts),
  );

  const got = await diff(`/runs/${runs[1]}/diff`);
  assert.equal(got.run_id, runs[1]);
  assert.equal(got.against, runs[0], 'by default, the run published before it');
  assert.deepEqual(got.users, {
    ...want.users,
    added: 20,
    removed: want.changes.filter((c) => c.change === 'removed').length,
    changed: want.changes.filter((c) => c.change === 'changed').length,
  });
  assert.deepEqual(got.features_changed, want.counts);
  // etl.runs keeps the average as numeric: equal to the last digit or two of a double.
  for (const side of ['before', 'after'] as const)
    assert.ok(Math.abs(got.average_experiments_per_user[side]! - want.average[side]) < 1e-12, side);
  assert.equal(got.next_after, undefined);
  assertSameChanges(got.changes, want.changes, 'GET /runs/:id/diff');

  // The other way round: added and removed swap.
  const back = await diff(`/runs/${runs[0]}/diff?against=${runs[1]}`);
  assert.deepEqual([back.users.added, back.users.removed], [got.users.removed, got.users.added]);
  assertSameChanges(back.changes, naiveDiff(second, first).changes, 'against');
});

test('the changed users page by user_id (keyset) to the same list, and psql sees the same diff', async () => {
  const whole = await diff(`/runs/${runs[1]}/diff`);
  const paged: Change[] = [];
  let next: number | null | undefined = 0;
  let pages = 0;
  while (next !== null) {
    const page = await diff(`/runs/${runs[1]}/diff?limit=37&after=${next}`);
    assert.deepEqual(page.users, whole.users, 'every page has the counts of the whole diff');
    assert.ok(page.changes.length <= 37);
    paged.push(...page.changes);
    next = page.next_after;
    pages++;
  }
  assert.ok(pages > 3);
  assert.deepEqual(paged, whole.changes);
  const beyond = await diff(`/runs/${runs[1]}/diff?after=9999999`);
  assert.deepEqual([beyond.changes, beyond.users], [[], whole.users]);

  const sql = await query<{ user_id: number; change: string }>(
    database,
    'SELECT user_id, change FROM etl.run_diff($1, $2) ORDER BY user_id',
    [runs[1], runs[0]],
  );
  assert.deepEqual(
    sql.map((r) => [Number(r.user_id), r.change]),
    whole.changes.map((c) => [c.user_id, c.change]),
  );
  const [summary] = await query<Record<string, unknown>>(database, 'SELECT * FROM etl.run_diff_summary($1, $2)', [runs[1], runs[0]]);
  assert.equal(Number(summary!.changed), whole.users.changed);
});

test('GET /runs/:id/diff.csv: the same changes, spreadsheet-safe unless raw=1', async () => {
  const whole = await diff(`/runs/${runs[1]}/diff`);
  const response = await get(`/runs/${runs[1]}/diff.csv`);
  assert.equal(response.status, 200);
  assert.equal(response.headers.get('content-type'), 'text/csv; charset=utf-8; header=present');
  assert.equal(response.headers.get('x-users-changed'), String(whole.users.changed));
  assert.equal(response.headers.get('x-against'), String(runs[0]));
  const records = parse(await response.text(), { columns: true }) as Record<string, string>[];
  const number = (text: string) => (text === '' ? null : Number(text));
  const side = (r: Record<string, string>, s: string): Side | null =>
    r[`total_experiments_${s}`] === ''
      ? null
      : {
          total_experiments: Number(r[`total_experiments_${s}`]),
          average_run_time: number(r[`average_run_time_${s}`]!),
          top_compound_id: number(r[`top_compound_id_${s}`]!),
          top_compound_name: r[`top_compound_name_${s}`] === '' ? null : r[`top_compound_name_${s}`]!,
          top_compound_ids: r[`top_compound_ids_${s}`] === '' ? [] : r[`top_compound_ids_${s}`]!.split(';').map(Number),
          top_compound_experiments: number(r[`top_compound_experiments_${s}`]!),
        };
  const formula = (c: Change) => ({
    ...c,
    after:
      c.after && c.after.top_compound_name?.startsWith('=') ? { ...c.after, top_compound_name: `'${c.after.top_compound_name}` } : c.after,
  });
  const fromCsv = records.map((r) => ({
    user_id: Number(r.user_id),
    change: r.change as Change['change'],
    before: side(r, 'before'),
    after: side(r, 'after'),
  }));
  assert.ok(
    whole.changes.some((c) => c.after?.top_compound_name === '=HYPERLINK("x")'),
    'a changed user has the formula',
  );
  assertSameChanges(fromCsv, whole.changes.map(formula), 'CSV');
  const raw = parse(await (await get(`/runs/${runs[1]}/diff.csv?raw=1`)).text(), { columns: true }) as Record<string, string>[];
  assert.ok(raw.some((r) => r.top_compound_name_after === '=HYPERLINK("x")'));
  const accepted = await get(`/runs/${runs[1]}/diff?limit=5`);
  assert.equal(accepted.headers.get('content-type'), 'application/json');
  const asCsv = await fetch(`${service.base}/runs/${runs[1]}/diff?limit=5`, { headers: { Accept: 'text/csv' } });
  assert.equal((parse(await asCsv.text(), { columns: true }) as unknown[]).length, 5);
});

test("a diff that cannot be made is a 404 naming why; an old run's features are retired after KEEP_RUNS", async () => {
  const error = async (url: string) => {
    const response = await get(url);
    assert.equal(response.status, 404, url);
    return ((await response.json()) as { error: string }).error;
  };
  assert.match(await error(`/runs/${runs[0]}/diff`), /no earlier successful run to compare with: give \?against=/);
  assert.match(await error(`/runs/999/diff`), /no run 999/);
  assert.match(await error(`/runs/${runs[1]}/diff?against=998`), /no run 998/);
  assert.equal((await get(`/runs/${runs[1]}/diff?against=x`)).status, 400);

  // A failed run has nothing to compare (an empty users file fails with 422).
  await writeFile(path.join(dir, FILES.users), 'user_id,name,email,signup_date');
  const failed = (await (await fetch(`${service.base}/data`, { method: 'POST' })).json()) as { run_id: number };
  assert.match(await error(`/runs/${failed.run_id}/diff`), new RegExp(`run ${failed.run_id} has no features to compare: it failed`));

  // KEEP_RUNS=3: after three more successful runs the first run's features are gone.
  await writeRows(second);
  for (let i = 0; i < 3; i++) await trigger();
  assert.match(
    await error(`/runs/${runs[0]}/diff?against=${runs.at(-1)}`),
    new RegExp(`the features of run ${runs[0]} are no longer kept`),
  );
  const same = await diff(`/runs/${runs.at(-1)}/diff`);
  assert.deepEqual([same.against, same.users.added, same.users.removed, same.users.changed, same.changes], [runs.at(-2), 0, 0, 0, []]);
});

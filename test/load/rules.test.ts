// The typing layer (src/load/typed-rows.ts) restates in TypeScript what etl.to_id, etl.to_date,
// etl.to_run_time and the transform's length checks decide in SQL; src/load/rules.ts names the
// limits and grammars once. Generated strings around the grammars' edges go to both, and:
// - whenever the typer takes a value, the SQL accepts it with the same value (the fast path never
//   lets through what the SQL would reject, nor changes a value);
// - whenever the SQL accepts a value, the typer takes it, except where the design lets the typer be
//   conservative (the row then goes to the SQL, which decides): named below, one by one.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import fc from 'fast-check';
import type { DbHandle } from '../../src/db/connect.js';
import { TRANSFORM_DIR } from '../../src/db/sql-paths.js';
import { DATE_GRAMMAR, ID_GRAMMAR, MAX_CHARS, MAX_ID, RUN_TIME_DIGITS, RUN_TIME_GRAMMAR } from '../../src/load/rules.js';
import { CompoundTyper, ExperimentTyper, FieldSlices, IdSet, UserTyper, type RowTyper } from '../../src/load/typed-rows.js';
import { query, testDatabase } from '../helpers.js';

let database: DbHandle;
before(async () => {
  database = await testDatabase();
});
after(() => database.close());

/** Field `at` of the row the typer wrote for `fields`, or null when it left the row to the SQL. */
function typed(typer: RowTyper, fields: string[], at: number): string | null {
  const f = new FieldSlices();
  f.values = fields.map((v) => Buffer.from(v));
  if (
    !typer.take(
      2,
      fields.map((_, i) => i),
      f,
    )
  )
    return null;
  return typer.takeOutput().toString().split('\t')[at]!;
}

const knownIds = (ids: number[]) => {
  const set = new IdSet();
  for (const id of ids) set.add(id);
  return set;
};
/** Compounds 1..50 and user 1 are known, as if typed earlier in the run. */
const KNOWN_COMPOUNDS = Array.from({ length: 50 }, (_, i) => i + 1);
const experimentTyper = () => new ExperimentTyper({ users: knownIds([1]), compounds: knownIds(KNOWN_COMPOUNDS) });

const TYPERS = {
  id: (s: string) => typed(new UserTyper(new IdSet()), [s, 'n', 'e', '2020-01-01'], 0),
  date: (s: string) => typed(new UserTyper(new IdSet()), ['1', 'n', 'e', s], 3),
  runTime: (s: string) => typed(experimentTyper(), ['1', '1', '1', s], 3),
  idList: (s: string) => typed(experimentTyper(), ['1', '1', s, '1'], 2),
  name: (s: string) => typed(new UserTyper(new IdSet()), ['1', s, 'e', '2020-01-01'], 1),
  structure: (s: string) => typed(new CompoundTyper(new IdSet()), ['1', 'c', s], 2),
};

/** The SQL's verdict on each string, and the typer's value read by PostgreSQL, both as text (null: rejected / not typed). */
const SQL = {
  id: 'etl.to_id(raw)::text, typed::bigint::text',
  date: 'etl.to_date(raw)::text, typed::date::text',
  // float8 -> text is the shortest exact form: equal texts are equal values, -0 included.
  runTime: 'etl.to_run_time(raw)::text, typed::float8::text',
  idList: 'etl.distinct_ids(etl.to_id_list(raw))::text, typed::bigint[]::text',
  // The transform's checks (sql/transform/020-users.sql, 030-compounds.sql), tied to rules.ts below.
  name: `CASE WHEN length(raw) <= ${MAX_CHARS.name} THEN raw END, typed`,
  structure: `CASE WHEN length(raw) <= ${MAX_CHARS.compound_structure} THEN raw END, typed`,
} as const;

type Kind = keyof typeof TYPERS;

/** Runs a batch through both and returns [raw, sql, ts] per string. */
async function judge(kind: Kind, raws: string[]) {
  const tsValues = raws.map((s) => {
    const v = TYPERS[kind](s);
    // COPY text escapes (\\, \t, \n) in typed text fields: undo them to compare values.
    return v === null ? null : v.replace(/\\(.)/g, (_, c: string) => ({ t: '\t', n: '\n', r: '\r' })[c] ?? c);
  });
  const rows = await query<{ sql: string | null; ts: string | null }>(
    database,
    `SELECT ${SQL[kind].replace(/, /, ' AS sql, ')} AS ts FROM unnest($1::text[], $2::text[]) WITH ORDINALITY AS r(raw, typed, i) ORDER BY i`,
    [raws, tsValues],
  );
  return rows.map((r, i) => ({ raw: raws[i]!, sql: r.sql, ts: r.ts }));
}

/** Where the SQL accepts what the typer leaves to it, by design. */
const CONSERVATIVE: Record<Kind, (raw: string, sql: string) => boolean> = {
  id: () => false,
  date: () => false,
  // sql/000007's fast path casts any run of up to 30 digits with at most one point, so it accepts
  // more than RUN_TIME_DIGITS digits on a side, which its regular expression (and the typer) refuse.
  runTime: (raw) => /^[0-9]*\.?[0-9]*$/.test(raw) && raw.split('.').some((part) => part.length > RUN_TIME_DIGITS),
  // Only compounds typed earlier in the run can be taken (here 1..50).
  idList: (_, sql) =>
    sql
      .slice(1, -1)
      .split(',')
      .some((id) => !KNOWN_COMPOUNDS.includes(Number(id))),
  name: () => false,
  structure: () => false,
};

async function check(kind: Kind, raws: string[]) {
  const show = (s: string | null) => JSON.stringify(s !== null && s.length > 60 ? `${s.slice(0, 60)}…(${[...s].length} characters)` : s);
  for (const { raw, sql, ts } of await judge(kind, raws)) {
    if (ts !== null) assert.equal(ts, sql, `${kind} ${show(raw)}: the typer took it as ${show(ts)}, the SQL gives ${show(sql)}`);
    else if (sql !== null)
      assert.ok(CONSERVATIVE[kind](raw, sql), `${kind} ${show(raw)}: the SQL accepts it as ${show(sql)}, the typer left it`);
  }
}

// No shrinking: a failure names the string already, and shrinking batches costs thousands of round trips.
const RUNS = { numRuns: 25, endOnFailure: true };
const batch = (arb: fc.Arbitrary<string>) => fc.array(arb, { minLength: 50, maxLength: 150 });
// size 'max': lengths up to maxLength (the default size keeps arrays around 10 long).
const from = (chars: string[], maxLength: number, minLength = 0) =>
  fc.array(fc.constantFrom(...chars), { minLength, maxLength, size: 'max' }).map((a) => a.join(''));
const digits = (min: number, max: number) => from([...'0123456789'], max, min);
const ODD = ['', ' ', '\t', '\n', '+', '-', '.', ',', ';', 'e', 'E', 'x', '٣', '１', '²', '\\'];

const idArb = fc.oneof(
  from([...'0000123456789', ...ODD], 20),
  fc.tuple(from(['0'], 4), digits(14, 18)).map(([z, d]) => z + d),
  fc.bigInt({ min: BigInt(MAX_ID) - 1000n, max: BigInt(MAX_ID) + 1000n }).map(String),
  fc.tuple(from(['0'], 3), fc.maxSafeNat()).map(([z, n]) => z + n),
);

const pad = (n: number, width: number) => String(n).padStart(width, '0');
const dateArb = fc.oneof(
  fc
    .tuple(
      fc.oneof(fc.integer({ min: 0, max: 10_000 }), fc.constantFrom(0, 1, 1900, 2000, 2004, 2023, 2024, 2100, 9999)),
      fc.integer({ min: 0, max: 13 }),
      fc.integer({ min: 0, max: 32 }),
      fc.constantFrom('-', '-', '-', '/', '.', ' ', ''),
      fc.constantFrom(4, 4, 4, 3, 5),
    )
    .map(([y, m, d, sep, width]) => [pad(y, width), pad(m, 2), pad(d, 2)].join(sep)),
  fc.tuple(fc.constantFrom(1900, 2000, 2023, 2024, 2100), fc.constantFrom(28, 29, 30, 31)).map(([y, d]) => `${y}-02-${d}`),
  from([...'0123456789-', ...ODD], 12),
);

const runTimeArb = fc.oneof(
  fc
    .tuple(
      fc.constantFrom('', '', '+', '-'),
      digits(0, 17),
      fc.option(digits(0, 17).map((d) => `.${d}`)),
      fc.option(fc.tuple(fc.constantFrom('e', 'E'), fc.constantFrom('', '+', '-'), digits(0, 3)).map((p) => p.join(''))),
    )
    .map(([sign, int, frac, exp]) => sign + int + (frac ?? '') + (exp ?? '')),
  from([...'00123456789.', ...ODD], 20),
  fc.constantFrom('NaN', 'Infinity', '-Infinity', 'inf', '1e400', '-0', '-0.0e5', '0x10', '1_000', ' 1', '1 '),
);

const idListArb = fc.oneof(
  fc
    .array(
      fc.tuple(
        fc.constantFrom('', ' ', '\t', '  '),
        fc.oneof(fc.integer({ min: 1, max: 60 }).map(String), idArb),
        fc.constantFrom('', ' ', '\t'),
      ),
      {
        minLength: 1,
        maxLength: 6,
      },
    )
    .map((items) => items.map((p) => p.join('')).join(';')),
  from([...'0123456789;;', ...ODD], 20),
);

/** Strings of about `limit` characters, some outside the Basic Multilingual Plane (two UTF-16 units, four UTF-8 bytes). */
const lengthArb = (limit: number) =>
  fc
    .tuple(
      fc.integer({ min: limit - 3, max: limit + 3 }),
      fc.array(fc.constantFrom('a', 'é', '€', '𝄞', '\\', '\t'), { minLength: 1, maxLength: 3 }),
    )
    .map(([n, cycle]) => Array.from({ length: n }, (_, i) => cycle[i % cycle.length]!).join(''));

test('ids: what the typer takes, etl.to_id accepts with the same value, and the other way round', { timeout: 60_000 }, async () => {
  await fc.assert(
    fc.asyncProperty(batch(idArb), (raws) => check('id', raws)),
    RUNS,
  );
});

test('dates: what the typer takes, etl.to_date accepts as the same date, and the other way round', { timeout: 60_000 }, async () => {
  await fc.assert(
    fc.asyncProperty(batch(dateArb), (raws) => check('date', raws)),
    RUNS,
  );
});

test(
  'run times: what the typer takes, etl.to_run_time accepts as the same number; the other way but for >15 digits',
  { timeout: 60_000 },
  async () => {
    await fc.assert(
      fc.asyncProperty(batch(runTimeArb), (raws) => check('runTime', raws)),
      RUNS,
    );
  },
);

test('compound lists: what the typer takes, etl.to_id_list accepts as the same compounds (each once)', { timeout: 60_000 }, async () => {
  await fc.assert(
    fc.asyncProperty(batch(idListArb), (raws) => check('idList', raws)),
    RUNS,
  );
});

test('text lengths: the typer counts characters as PostgreSQL does, at the limits', { timeout: 60_000 }, async () => {
  await fc.assert(
    fc.asyncProperty(fc.array(lengthArb(MAX_CHARS.name), { minLength: 10, maxLength: 30 }), (raws) => check('name', raws)),
    { ...RUNS, numRuns: 10 },
  );
  await fc.assert(
    fc.asyncProperty(fc.array(lengthArb(MAX_CHARS.compound_structure), { minLength: 2, maxLength: 4 }), (raws) => check('structure', raws)),
    { ...RUNS, numRuns: 5 },
  );
});

test('the edges the generators are meant to reach are reached', async () => {
  // Fixed cases, so that a generator that drifted away from an edge still fails here.
  await check('id', [
    '9007199254740991',
    '09007199254740991',
    '9007199254740992',
    '0',
    '000',
    '1',
    '0001',
    '1234567890123456',
    '12345678901234567',
    ' 1',
    '1 ',
    '+1',
    '١',
    '',
  ]);
  await check('date', [
    '2024-02-29',
    '2023-02-29',
    '1900-02-29',
    '2000-02-29',
    '2023-02-30',
    '0000-01-01',
    '0001-01-01',
    '9999-12-31',
    '2023-1-01',
    '2023/01/01',
    '2023-01-01 ',
  ]);
  await check('runTime', [
    '0',
    '-0',
    '-0.0e5',
    '+3',
    '-1',
    '.5',
    '5.',
    '.',
    '1e3',
    '1E+05',
    '1e999',
    '1e-99',
    '123456789012345.123456789012345',
    '1234567890123456',
    'NaN',
    '',
  ]);
  await check('idList', ['1', '1;2', ' 1 ; 2 ', '1;;2', '1;', ';', '2;2;1', '0', '51']);
  const accepted = await judge('id', ['9007199254740991', '9007199254740992']);
  assert.deepEqual(
    accepted.map((r) => [r.sql, r.ts]),
    [
      [String(MAX_ID), String(MAX_ID)],
      [null, null],
    ],
  );
  const leap = await judge('date', ['2024-02-29', '2023-02-29']);
  assert.deepEqual(
    leap.map((r) => [r.sql, r.ts]),
    [
      ['2024-02-29', '2024-02-29'],
      [null, null],
    ],
  );
  const long = await judge('runTime', ['1234567890123456']);
  assert.deepEqual(
    long.map((r) => [r.sql, r.ts]),
    [['1.234567890123456e+15', null]],
  );
});

test("rules.ts's grammars and limits are the ones written in the SQL", async () => {
  const def = async (fn: string) => (await query<{ def: string }>(database, 'SELECT pg_get_functiondef($1::regproc) AS def', [fn]))[0]!.def;
  assert.ok((await def('etl.to_id')).includes(`'${ID_GRAMMAR}'`), 'etl.to_id uses ID_GRAMMAR');
  assert.ok((await def('etl.to_id')).includes(`> ${MAX_ID}`), 'etl.to_id caps ids at MAX_ID');
  assert.ok((await def('etl.to_date')).includes(`'${DATE_GRAMMAR}'`), 'etl.to_date uses DATE_GRAMMAR');
  assert.ok((await def('etl.to_run_time')).includes(`'${RUN_TIME_GRAMMAR}'`), 'etl.to_run_time uses RUN_TIME_GRAMMAR');
  const users = await readFile(path.join(TRANSFORM_DIR, '020-users.sql'), 'utf8');
  const compounds = await readFile(path.join(TRANSFORM_DIR, '030-compounds.sql'), 'utf8');
  assert.match(users, new RegExp(`length\\(name\\) > ${MAX_CHARS.name}\\b`));
  assert.match(users, new RegExp(`length\\(email\\) > ${MAX_CHARS.email}\\b`));
  assert.match(compounds, new RegExp(`length\\(s\\.compound_name\\) > ${MAX_CHARS.compound_name}\\b`));
  assert.match(compounds, new RegExp(`length\\(s\\.compound_structure\\) > ${MAX_CHARS.compound_structure}\\b`));
});

// The features page: the published users sorted by any feature column, searched by id or by the
// prefix of a name or email, in keyset pages both ways; and one user with their experiments and
// compound counts. Every answer is read from one snapshot of the published run (lockPublished),
// from that run's partitions by their run_id, so a page never mixes two runs.
// One file, though long: the cursor, the keyset conditions and the search plans are one algorithm
// (a cursor is a position in exactly the order the conditions read), best read in one place.
import { createHash } from 'node:crypto';
import { sql, type Kysely, type RawBuilder } from 'kysely';
import type { Database } from '../db/schema.js';
import type { USER_SORTS } from '../http/params.js';
import { lockPublished, type UserFeatures } from './features.js';

export type Sort = (typeof USER_SORTS)[number];
export type Dir = 'asc' | 'desc';
/** Users a page at most (GET /data/users?limit=). */
export const MAX_PAGE = 500;
/**
 * A prefix search counts its matches up to this many: beyond, the answer says "more than" (counting
 * a prefix that every user has would read them all). It also chooses the plan: at most this many
 * matches are gathered and sorted, more are found by walking the sort's index (docs/api.md).
 */
export const MATCH_COUNT_CAP = 10_000;

/**
 * What each sort orders by: a column of mart.user_features, for text the stored key (lower-cased,
 * in code-point order: COLLATE "C"), as the read indexes of sql/000019-read-indexes.sql are built,
 * so a page is one range scan of one. `nullable`: the column is null for users without
 * experiments; they come last ascending and first descending (PostgreSQL's order, exactly reversed).
 */
const KEYS: Record<Sort, { column: string; nullable: boolean; type: 'int' | 'float' | 'text' }> = {
  user_id: { column: 'user_id', nullable: false, type: 'int' },
  name: { column: 'name_key', nullable: false, type: 'text' },
  email: { column: 'email_key', nullable: false, type: 'text' },
  total_experiments: { column: 'total_experiments', nullable: false, type: 'int' },
  average_run_time: { column: 'average_run_time', nullable: true, type: 'float' },
  top_compound_name: { column: 'top_compound_key', nullable: true, type: 'text' },
};
/** A sort's key on the rows `f`. */
const keyOf = (sort: Sort) => sql.ref(`f.${KEYS[sort].column}`);

export interface Compound {
  id: number;
  name: string | null;
}

/** A user of GET /data/users: their features and the top compounds (all tied) with their names. */
export type UserRow = UserFeatures & { top_compounds: Compound[] };

export interface UsersQuery {
  sort: Sort;
  dir: Dir;
  /** All digits: that user id; otherwise a case-insensitive prefix of the name or the email. */
  q?: string | undefined;
  limit: number;
  after?: string | undefined;
  before?: string | undefined;
}

export interface UsersPage {
  run_id: number | null;
  sort: Sort;
  dir: Dir;
  q: string | null;
  /** Users in the published run. */
  total_users: number;
  /** With q: how many users match; `exact` false when there are more than `count` (MATCH_COUNT_CAP). */
  matching: { count: number; exact: boolean } | null;
  users: UserRow[];
  next: string | null;
  prev: string | null;
}

/** A cursor the page cannot be read from (another run, sort or search; changed by hand; both after and before): the client's mistake (400). */
export class CursorError extends Error {}

/** A position in one ordering: the sort key's value (null for a user without it) and the user id. */
export interface Position {
  k: string | number | null;
  i: number;
}

export interface CursorBody extends Position {
  r: number;
  s: Sort;
  d: Dir;
  q: string;
}

const CURSOR_SALT = 'lab-features-etl users cursor v1';
const checksum = (body: string) => createHash('sha256').update(CURSOR_SALT).update(body).digest('base64url').slice(0, 16);

/**
 * An opaque cursor: the position, the run, the sort and the search, in base64url JSON, with a
 * checksum so that a cursor edited by hand is told apart from a valid one. It is not a secret (a
 * forged cursor reads nothing a request could not): the checksum only catches mistakes.
 */
export function encodeCursor(body: CursorBody): string {
  const json = JSON.stringify(body);
  return `${Buffer.from(json).toString('base64url')}.${checksum(json)}`;
}

function decodeCursor(cursor: string, run: number, query: UsersQuery): Position {
  const [payload, sum, ...rest] = cursor.split('.');
  const json = payload && /^[A-Za-z0-9_-]+$/.test(payload) ? Buffer.from(payload, 'base64url').toString() : '';
  if (rest.length > 0 || !sum || checksum(json) !== sum)
    throw new CursorError('the cursor is not one this service made (changed or cut short): start again from the first page');
  const body = JSON.parse(json) as CursorBody;
  if (body.r !== run) {
    throw new CursorError(`the cursor is from run ${body.r}, and run ${run} has been published since: start again from the first page`);
  }
  if (body.s !== query.sort || body.d !== query.dir || body.q !== (query.q ?? '')) {
    throw new CursorError('the cursor was made for another sort, direction or search: start again from the first page without it');
  }
  const key = KEYS[query.sort];
  const valid =
    Number.isSafeInteger(body.i) &&
    (body.k === null
      ? key.nullable
      : key.type === 'text'
        ? typeof body.k === 'string' && !body.k.includes('\0')
        : typeof body.k === 'number' && (key.type === 'float' ? Number.isFinite(body.k) : Number.isSafeInteger(body.k)));
  if (!valid) throw new CursorError('the cursor is not one this service made: start again from the first page');
  return { k: body.k, i: body.i };
}

/**
 * A search prefix as the range of the keys that start with it: `low` is the prefix lower-cased by
 * PostgreSQL as the indexed keys are (JavaScript's toLowerCase may differ beyond ASCII), `high` the
 * first string after every string that starts with it (null: none). In code-point order (COLLATE
 * "C") the range is exact, so the index's range condition is the whole test (a LIKE is tested
 * once more on every row the range finds).
 */
export interface PrefixRange {
  low: string;
  high: string | null;
}

/**
 * The range of the strings starting with `low`: `low` with its last code point incremented (past
 * the surrogates, which no string holds), or when that is the last code point, the same for the
 * string without it. Exported for its test.
 */
export function prefixRange(low: string): PrefixRange {
  const points = [...low].map((c) => c.codePointAt(0)!);
  while (points.length > 0) {
    const last = points.pop()!;
    if (last < 0x10ffff) {
      const next = last + 1 === 0xd800 ? 0xe000 : last + 1;
      return { low, high: String.fromCodePoint(...points, next) };
    }
  }
  return { low, high: null };
}

/** The rows whose `key` (a lower-cased text key, COLLATE "C") starts with the prefix. */
const startsWith = (key: RawBuilder<unknown>, { low, high }: PrefixRange) =>
  high === null
    ? sql`${key} >= ${low}::text COLLATE "C"`
    : sql`(${key} >= ${low}::text COLLATE "C" AND ${key} < ${high}::text COLLATE "C")`;

/**
 * Postgres's lower() and JavaScript's toLowerCase() agree on the keys a cursor holds only when the
 * database lower-cases the same way; the cursor's value is therefore taken from the database
 * (column `k`), never computed in Node.
 */
const keyValue = (sort: Sort, value: string | number | null): RawBuilder<unknown> =>
  value === null
    ? sql`NULL`
    : KEYS[sort].type === 'text'
      ? sql`${value}::text COLLATE "C"`
      : KEYS[sort].type === 'float'
        ? sql`${value}::float8`
        : sql`${value}::bigint`;

/**
 * The conditions of one page's branches in `order` (asc: keys ascending, null keys last; desc: the
 * exact reverse) after `from` (null: from the start). Each branch is one range of the sort's
 * index, read in its order: at most two (the users with a key, those without).
 */
function branches(sort: Sort, order: Dir, from: Position | null): RawBuilder<unknown>[] {
  const { nullable } = KEYS[sort];
  const expr = keyOf(sort);
  const k = from === null ? null : keyValue(sort, from.k);
  const rowCmp = (op: '>' | '<') =>
    sort === 'user_id'
      ? sql`f.user_id ${sql.raw(op)} ${from!.i}::bigint`
      : sql`(${expr}, f.user_id) ${sql.raw(op)} (${k}, ${from!.i}::bigint)`;
  const all = nullable ? sql`${expr} IS NOT NULL` : sql`true`;
  const nulls = sql`${expr} IS NULL`;
  if (order === 'asc') {
    if (from === null) return nullable ? [all, nulls] : [all];
    if (from.k !== null) return nullable ? [rowCmp('>'), nulls] : [rowCmp('>')];
    return [sql`${nulls} AND f.user_id > ${from.i}::bigint`];
  }
  if (from === null) return nullable ? [nulls, all] : [all];
  if (from.k === null) return [sql`${nulls} AND f.user_id < ${from.i}::bigint`, all];
  return [rowCmp('<')];
}

/** What a search looks for: nothing (every user), one user id, or a prefix of the name or email. */
type Search = null | { id: number } | { prefix: PrefixRange };

const NAME = keyOf('name');
const EMAIL = keyOf('email');

/** The users a search matches (on `f`). */
function matchOf(search: Search): RawBuilder<unknown> {
  if (search === null) return sql`true`;
  if ('id' in search) return sql`f.user_id = ${search.id}::bigint`;
  return sql`(${startsWith(NAME, search.prefix)} OR ${startsWith(EMAIL, search.prefix)})`;
}

const isId = (q: string) => /^[0-9]{1,16}$/.test(q);

/**
 * How a page finds its users. `scan`: the sort's index from the cursor, every user or the one id
 * (no search, an id). `gather`: a prefix search's matches, all of them, from the name and email
 * indexes (index-only: they carry every sort key), sorted by the sort's key; its cost grows
 * with the matches. `walk`: a broad search (more than MATCH_COUNT_CAP matches): the sort's index
 * from the cursor (index-only: it carries the search keys), at most WALK users, filtered; when
 * that window holds too few matches (they are elsewhere in this order), the page is gathered
 * instead.
 */
type Mode = 'scan' | 'gather' | 'walk';
/** Users a broad search's page reads in the sort's order before it gathers instead. */
const WALK = 2000;

/** The thresholds of the search's plans (tests set small ones to reach every plan on a small data set). */
export interface Tuning {
  matchCountCap: number;
  walk: number;
}
const TUNING: Tuning = { matchCountCap: MATCH_COUNT_CAP, walk: WALK };

interface Found {
  user_id: number;
  k: string | number | null;
}

/** The page's users in `order` after `from` from `source` (a table or CTE aliased `f`), each branch one range in the sort's order. */
function ordered(
  query: UsersQuery,
  source: RawBuilder<unknown>,
  where: RawBuilder<unknown>,
  order: Dir,
  from: Position | null,
  want: number,
  indexed = true,
) {
  const expr = keyOf(query.sort);
  const by = order === 'asc' ? sql`ASC` : sql`DESC`;
  const orderBy = query.sort === 'user_id' ? sql`f.user_id ${by}` : sql`${expr} ${by}, f.user_id ${by}`;
  // Without an index to read each branch in order (gathered rows), one pass over them is cheaper;
  // from the start, that pass needs no condition (the branches then cover every row).
  const conditions = branches(query.sort, order, from);
  const unindexed = from === null ? [sql`true`] : [sql`((${sql.join(conditions, sql`) OR (`)}))`];
  const parts = (indexed ? conditions : unindexed).map(
    (condition) =>
      sql`(SELECT f.user_id, f.name_key, f.email_key, ${expr} AS k FROM ${source} WHERE ${where} AND ${condition} ORDER BY ${orderBy} LIMIT ${want})`,
  );
  const outer = query.sort === 'user_id' ? sql`p.user_id ${by}` : sql`p.k ${by}, p.user_id ${by}`;
  return sql`SELECT * FROM (${sql.join(parts, sql` UNION ALL `)}) p ORDER BY ${outer} LIMIT ${want}`;
}

/** One side of a page: up to `want` users (id and sort key) in `order` after `from`. */
async function findSide(
  trx: Kysely<Database>,
  run: number,
  query: UsersQuery,
  search: Search,
  mode: Mode,
  order: Dir,
  from: Position | null,
  want: number,
  tuning: Tuning,
): Promise<Found[]> {
  const table = sql`mart.user_features f`;
  const inRun = sql`f.run_id = ${run}::bigint`;
  if (mode === 'scan') {
    return (
      await sql<Found>`SELECT user_id, k FROM (${ordered(query, table, sql`${inRun} AND ${matchOf(search)}`, order, from, want)}) o`.execute(
        trx,
      )
    ).rows;
  }
  if (mode === 'walk') {
    // The next WALK users in this order, those matching, and how many the window held (on each row).
    const { rows } = await sql<Found & { seen: number }>`
      SELECT user_id, k, seen FROM (SELECT w.*, count(*) OVER () AS seen FROM (${ordered(query, table, inRun, order, from, tuning.walk)}) w) f
      WHERE ${matchOf(search)} ORDER BY ${order === 'asc' ? sql`k ASC, user_id ASC` : sql`k DESC, user_id DESC`} LIMIT ${want}`.execute(
      trx,
    );
    if (rows.length === want || (rows.length > 0 && rows[0]!.seen < tuning.walk)) return rows;
  }
  // Gathered: every match, from the two prefix indexes without reading the table (index-only: they
  // carry every sort key), each side's first `want` in this order by a top-N sort, then the two
  // merged. A user on both sides is one row to UNION (same id, same keys). OFFSET 0 keeps the
  // planner from walking the sort's index instead, which the walk above found too sparse. Sorted
  // by name (email), the name (email) side is already in order in its index: a range scan from the
  // cursor.
  const prefix = (search as { prefix: PrefixRange }).prefix;
  // Only the keys the page needs: deforming every column of 111k index entries costs a third more.
  const columns = sql.join([...new Set(['user_id', 'name_key', 'email_key', KEYS[query.sort].column])].map((c) => sql.ref(c)));
  const side = (column: 'name' | 'email') =>
    query.sort === column
      ? sql`(${ordered(query, table, sql`${inRun} AND ${startsWith(keyOf(column), prefix)}`, order, from, want)})`
      : sql`(${ordered(
          query,
          sql`(SELECT ${columns} FROM mart.user_features f WHERE ${inRun} AND ${startsWith(keyOf(column), prefix)} OFFSET 0) f`,
          sql`true`,
          order,
          from,
          want,
          false,
        )})`;
  const sides = [side('name'), side('email')];
  const outer = query.sort === 'user_id' ? sql`user_id` : sql`k`;
  const by = order === 'asc' ? sql`ASC` : sql`DESC`;
  return (
    await sql<Found>`SELECT user_id, k FROM (${sql.join(sides, sql` UNION `)}) o ORDER BY ${outer} ${by}, user_id ${by} LIMIT ${want}`.execute(
      trx,
    )
  ).rows;
}

/** The features of the users found, in their order, with the key each cursor holds. */
async function fetchRows(trx: Kysely<Database>, run: number, found: Found[]): Promise<Row[]> {
  if (found.length === 0) return [];
  const { rows } = await sql<UserFeatures>`
    SELECT user_id, name, email, total_experiments, average_run_time, top_compound_id, top_compound_name, top_compound_ids, top_compound_experiments
    FROM mart.user_features WHERE run_id = ${run}::bigint AND user_id = ANY(${found.map((f) => f.user_id)}::bigint[])`.execute(trx);
  const byId = new Map(rows.map((r) => [r.user_id, r]));
  return found.map((f) => ({ ...byId.get(f.user_id)!, k: f.k }));
}

/**
 * How many users match a prefix, up to MATCH_COUNT_CAP + 1: those whose name has it, then those
 * whose email has it but not their name. Each is one bounded range scan of an index; the second is
 * skipped when the first is over the cap (a prefix every user's name has would read them all).
 */
async function countPrefix(
  trx: Kysely<Database>,
  run: number,
  prefix: PrefixRange,
  { matchCountCap }: Tuning,
): Promise<{ count: number; exact: boolean }> {
  const cap = matchCountCap + 1;
  const { rows } = await sql<{ n: number }>`
    WITH names AS (SELECT count(*) AS n FROM (SELECT 1 FROM mart.user_features f
                   WHERE f.run_id = ${run}::bigint AND ${startsWith(NAME, prefix)} LIMIT ${cap}) a)
    SELECT n + CASE WHEN n >= ${cap} THEN 0 ELSE (
             SELECT count(*) FROM (SELECT 1 FROM mart.user_features f
               WHERE f.run_id = ${run}::bigint AND ${startsWith(EMAIL, prefix)}
                 AND NOT ${startsWith(NAME, prefix)} LIMIT ${cap}) b) END AS n
    FROM names`.execute(trx);
  const n = rows[0]!.n;
  return n > matchCountCap ? { count: matchCountCap, exact: false } : { count: n, exact: true };
}

interface Row extends UserFeatures {
  k: string | number | null;
}

const flip = (dir: Dir): Dir => (dir === 'asc' ? 'desc' : 'asc');

/** The names of these compounds in the run (a compound the run does not have: null). */
async function compoundNames(trx: Kysely<Database>, run: number, ids: number[]): Promise<Map<number, string>> {
  if (ids.length === 0) return new Map();
  const { rows } = await sql<{ id: number; name: string }>`
    SELECT compound_id AS id, compound_name AS name FROM core.compounds
    WHERE run_id = ${run}::bigint AND compound_id = ANY(${[...new Set(ids)]}::bigint[])`.execute(trx);
  return new Map(rows.map((r) => [r.id, r.name]));
}

/**
 * Reads in one REPEATABLE READ, READ ONLY snapshot of the published run, locked first (see
 * lockPublished), so that every statement reads the same run. `work` is given the run (null
 * before any run succeeded).
 */
function inSnapshot<T>(
  db: Kysely<Database>,
  work: (trx: Kysely<Database>, run: { run_id: number; users: number } | null) => Promise<T>,
): Promise<T> {
  return db
    .transaction()
    .setIsolationLevel('repeatable read')
    .setAccessMode('read only')
    .execute(async (trx) => {
      await lockPublished(trx);
      // No JIT for these short reads; room for a broad search's gathered matches (~100k narrow
      // rows) without spilling them to disk.
      await sql`SET LOCAL jit = off; SET LOCAL work_mem = '64MB'`.execute(trx);
      const published = await trx.selectFrom('features.average_experiments_per_user').select(['run_id', 'users']).executeTakeFirst();
      return work(trx, published ? { run_id: published.run_id, users: published.users ?? 0 } : null);
    });
}

/**
 * GET /data/users: one page of the published users in the order asked for. `after` (the previous
 * answer's `next`) reads on, `before` (its `prev`) reads back. Rejects with CursorError when both
 * are given, and for a cursor of another run, sort or search, or one changed by hand.
 */
export function listUsers(db: Kysely<Database>, query: UsersQuery, tuning: Tuning = TUNING): Promise<UsersPage> {
  if (query.after !== undefined && query.before !== undefined) return Promise.reject(new CursorError('give after or before, not both'));
  return inSnapshot(db, async (trx, published) => {
    const empty: UsersPage = {
      run_id: null,
      sort: query.sort,
      dir: query.dir,
      q: query.q ?? null,
      total_users: 0,
      matching: null,
      users: [],
      next: null,
      prev: null,
    };
    if (!published) {
      if (query.after || query.before)
        throw new CursorError('the cursor is from a run that is no longer published: start again from the first page');
      return empty;
    }
    const run = published.run_id;
    const q = query.q || undefined;
    const search: Search = q === undefined ? null : isId(q) ? { id: Number(q) } : { prefix: prefixRange(await lowerCased(trx, q)) };
    const matching =
      search === null ? null : 'id' in search ? await countId(trx, run, search.id) : await countPrefix(trx, run, search.prefix, tuning);
    const mode: Mode = search === null || 'id' in search ? 'scan' : matching!.exact ? 'gather' : 'walk';
    const cursor = query.after ?? query.before;
    const from = cursor === undefined ? null : decodeCursor(cursor, run, query);
    // Reading back is reading on in the reverse order, then reversing the page.
    const backwards = query.before !== undefined;
    const order = backwards ? flip(query.dir) : query.dir;
    const find = (side: Dir, after: Position | null, want: number) => findSide(trx, run, query, search, mode, side, after, want, tuning);
    const got = await find(order, from, query.limit + 1);
    const more = got.length > query.limit;
    const found = got.slice(0, query.limit);
    if (backwards) found.reverse();
    const first = found[0];
    const last = found[found.length - 1];
    // Past the cursor's side there is always a user: the one the cursor names. A cursor is only
    // made from a user of an answer to this run, sort and search (decodeCursor checks all three),
    // so no second search is needed to know it (for a gathered search that would be a second
    // gather of every match).
    const hasNext = backwards ? from !== null : more;
    const hasPrev = backwards ? more : from !== null;
    const rows = await fetchRows(trx, run, found);
    const at = (f: Found): string => encodeCursor({ r: run, s: query.sort, d: query.dir, q: q ?? '', k: f.k, i: f.user_id });
    const names = await compoundNames(
      trx,
      run,
      rows.flatMap((r) => r.top_compound_ids),
    );
    return {
      ...empty,
      run_id: run,
      total_users: published.users,
      matching,
      users: rows.map(({ k: _k, ...user }) => ({
        ...user,
        top_compounds: user.top_compound_ids.map((id) => ({ id, name: names.get(id) ?? null })),
      })),
      next: hasNext && last ? at(last) : null,
      prev: hasPrev && first ? at(first) : null,
    };
  });
}

/** A search prefix lower-cased as PostgreSQL lower-cases the keys it is compared with. */
async function lowerCased(trx: Kysely<Database>, q: string): Promise<string> {
  const { rows } = await sql<{ low: string }>`SELECT lower(${q}::text) AS low`.execute(trx);
  return rows[0]!.low;
}

async function countId(trx: Kysely<Database>, run: number, id: number): Promise<{ count: number; exact: boolean }> {
  const { rows } = await sql<{
    n: number;
  }>`SELECT count(*) AS n FROM mart.user_features WHERE run_id = ${run}::bigint AND user_id = ${id}::bigint`.execute(trx);
  return { count: rows[0]!.n, exact: true };
}

/** Experiments of one user a detail answer lists at most (the counts cover them all). */
export const MAX_EXPERIMENTS_SHOWN = 1000;

/**
 * The features page's two reads as the API and the dashboard call them: listUsers and
 * getUserDetail on the service's readers, each also telling whoever builds the read indexes which
 * run it read (src/api/app.ts makes them).
 */
export interface UserReads {
  list(query: UsersQuery): Promise<UsersPage>;
  detail(userId: number): Promise<UserDetail | undefined>;
}

export interface UserDetail {
  run_id: number;
  user: UserRow;
  /** The user's experiments in file order (the first MAX_EXPERIMENTS_SHOWN). */
  experiments: { experiment_id: number; run_time: number; line: number; compounds: Compound[] }[];
  /** Every compound of those experiments with how many list it, the most first, then by id; `top`: one of the top compounds. */
  compound_counts: (Compound & { experiments: number; top: boolean })[];
}

/**
 * GET /data/users/:id/experiments: one user of the published run, their experiments and how many
 * of them list each compound (the counts that make the top compound), in one snapshot; undefined
 * when the run has no such user.
 */
export function getUserDetail(db: Kysely<Database>, userId: number): Promise<UserDetail | undefined> {
  return inSnapshot(db, async (trx, published) => {
    if (!published) return undefined;
    const run = published.run_id;
    const { rows: users } = await sql<UserFeatures>`
      SELECT user_id, name, email, total_experiments, average_run_time, top_compound_id, top_compound_name, top_compound_ids, top_compound_experiments
      FROM mart.user_features WHERE run_id = ${run}::bigint AND user_id = ${userId}::bigint`.execute(trx);
    const user = users[0];
    if (!user) return undefined;
    const [{ rows: experiments }, { rows: counts }] = [
      await sql<{ experiment_id: number; run_time: number; line: number; compound_ids: number[] }>`
        SELECT experiment_id, run_time, line, compound_ids FROM core.experiments
        WHERE run_id = ${run}::bigint AND user_id = ${userId}::bigint ORDER BY line LIMIT ${MAX_EXPERIMENTS_SHOWN}`.execute(trx),
      await sql<{ id: number; n: number }>`
        SELECT c AS id, count(*) AS n FROM core.experiments e CROSS JOIN LATERAL unnest(e.compound_ids) c
        WHERE e.run_id = ${run}::bigint AND e.user_id = ${userId}::bigint GROUP BY c ORDER BY n DESC, c`.execute(trx),
    ];
    const names = await compoundNames(trx, run, [...counts.map((c) => c.id), ...user.top_compound_ids]);
    const named = (id: number): Compound => ({ id, name: names.get(id) ?? null });
    const top = new Set(user.top_compound_ids);
    return {
      run_id: run,
      user: { ...user, top_compounds: user.top_compound_ids.map(named) },
      experiments: experiments.map((e) => ({
        experiment_id: e.experiment_id,
        run_time: e.run_time,
        line: e.line,
        compounds: e.compound_ids.map(named),
      })),
      compound_counts: counts.map((c) => ({ ...named(c.id), experiments: c.n, top: top.has(c.id) })),
    };
  });
}

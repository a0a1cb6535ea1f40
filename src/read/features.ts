import { sql, type ControlledTransaction, type Kysely, type RawBuilder } from 'kysely';
import { hasCitus, isCitus } from '../db/citus.js';
import type { DbHandle } from '../db/connect.js';
import type { Database, UserFeaturesView } from '../db/schema.js';
import { csvText } from './csv.js';
import { listRuns, type RunRecord } from './runs.js';

export type UserFeatures = UserFeaturesView;

/**
 * Users per round trip while streaming; bounds the memory a response holds (~120 KB of JSON). Why
 * 500 and not more, with the figures measured: docs/performance.md, "GET /data: the page size".
 */
const BATCH = 500;
/**
 * On Citus every page is a round of tasks, one per shard, whatever its size: at 500 users a page
 * the rounds, not the bytes, took GET /data's time (100k users: 17-21 s). Larger pages, fewer rounds.
 */
const CITUS_BATCH = 5000;

export interface FeaturesPage {
  /** Users with a larger user_id only (keyset pagination). */
  after?: number;
  /** At most this many users; the answer then ends with `next_after` (null on the last page). */
  limit?: number;
}

/** What a rendering of the features is told before the first user: which run, and its average. */
export interface FeaturesSnapshot {
  run: RunRecord | null;
  average_experiments_per_user: number | null;
}

/**
 * One rendering of the published features: `page` is the SQL of one keyset page (at most `want`
 * users after `last`, joined into one string by PostgreSQL), `head` opens the answer, `between`
 * separates two pages, `tail` closes it. Both renderings (JSON, CSV) share the snapshot, the lock,
 * the paging and its plan settings; only what each user is rendered as differs.
 */
interface Rendering {
  page(last: number, want: number, citus: boolean): RawBuilder<{ n: number; last: number | null; chunk: string | null }>;
  head(snapshot: FeaturesSnapshot): string;
  between: string;
  tail(count: number, last: number): string;
}

/**
 * The published features as text chunks in `rendering`, ordered by user_id: the run, the average
 * and the users. Everything is read in one REPEATABLE READ snapshot, so the parts always come from
 * the same run even while another run publishes. Users are read in keyset pages of BATCH, each
 * rendered and joined by PostgreSQL, so Node's memory stays flat however many users there are.
 *
 * The generator holds one connection from its first `next()` until it finishes, throws, or is
 * ended with `return()`: its owner must do one of those.
 */
async function* renderFeatures(db: Kysely<Database>, page: FeaturesPage, rendering: Rendering): AsyncGenerator<string> {
  const trx = await db.startTransaction().setIsolationLevel('repeatable read').setAccessMode('read only').execute();
  try {
    yield rendering.head(await publishedSnapshot(trx));
    // Keyset pages of BATCH users, each joined into one string by PostgreSQL, so Node handles one
    // row per page instead of one per user (the per-row cursor path measured ~128k users/s at 1M
    // users, bound by Node).
    await keysetPlans(trx);
    const citus = await hasCitus(trx);
    let count = 0;
    let last = page.after ?? 0;
    const fetchPage = (after: number, want: number) =>
      rendering
        .page(after, want, citus)
        .execute(trx)
        .then((r) => r.rows[0]!);
    const batch = citus ? CITUS_BATCH : BATCH;
    const wanted = () => (page.limit === undefined ? batch : Math.min(batch, page.limit - count));
    let want = wanted();
    let pending = want > 0 ? fetchPage(last, want) : null;
    while (pending) {
      const got = await pending;
      pending = null;
      if (got.n === 0) break;
      const chunk = count === 0 ? got.chunk! : `${rendering.between}${got.chunk!}`;
      count += got.n;
      last = got.last!;
      const full = got.n === want;
      want = wanted();
      // The next page is read while this one is sent.
      if (full && want > 0) {
        pending = fetchPage(last, want);
        pending.catch(() => {}); // a reader that stops early leaves it unawaited; the rollback below ends it
      }
      yield chunk;
    }
    const tail = rendering.tail(count, last);
    if (tail) yield tail;
    await trx.commit().execute();
  } finally {
    await endSnapshot(trx);
  }
}

/**
 * Ends a streamed answer's snapshot that was thrown out of, or ended early by a reader that went
 * away (a committed one is left as it is). Kysely discards the connection if even that fails.
 */
export async function endSnapshot(trx: ControlledTransaction<Database>): Promise<void> {
  if (!trx.isCommitted && !trx.isRolledBack)
    await trx
      .rollback()
      .execute()
      .catch(() => {});
}

/** Locks the published features (see lockPublished) and reads which run they are and its average. */
async function publishedSnapshot(trx: Kysely<Database>): Promise<FeaturesSnapshot> {
  await lockPublished(trx);
  const average = await trx.selectFrom('features.average_experiments_per_user').selectAll().executeTakeFirst();
  const [run] = average ? await listRuns(trx, { runId: average.run_id, limit: 1 }) : [];
  return { run: run ?? null, average_experiments_per_user: average?.average_experiments_per_user ?? null };
}

/**
 * Each keyset page must be an index range scan; a plan that reads all remaining users per page (no
 * statistics yet on a partition) would make a stream quadratic. Those settings inflate plan costs,
 * which would make PostgreSQL JIT-compile every page (~250 ms each, 56 s for 1M users): no JIT.
 */
async function keysetPlans(trx: Kysely<Database>): Promise<void> {
  await sql`SET LOCAL jit = off`.execute(trx);
  await sql`SET LOCAL enable_seqscan = off`.execute(trx);
  await sql`SET LOCAL enable_bitmapscan = off`.execute(trx);
}

/**
 * The users of one keyset page: those after `last`, of which the page takes the first `want`. On
 * Citus, a LIMIT over a distributed table is applied on every shard, so each shard would send
 * `want` whole users for the page to keep `want` of them all (32 shards: 32 times the page, 279 s
 * for GET /data at 1M users). There the page's last user_id is found first, from the ids alone, and
 * each shard sends only its users up to it.
 */
const pageOf = (last: number, want: number, citus: boolean) =>
  citus
    ? sql`user_id > ${last} AND user_id <= (SELECT max(user_id) FROM (SELECT user_id FROM features.user_features WHERE user_id > ${last} ORDER BY user_id LIMIT ${want}) ids)`
    : sql`user_id > ${last}`;

/**
 * `GET /data` as JSON text chunks: `{"run", "average_experiments_per_user", "users": [...]}` (see
 * renderFeatures). Each user's JSON was rendered by PostgreSQL when the run computed its features
 * (mart.user_features.json), so a page is a concatenation of stored text.
 */
export function featuresJson(db: Kysely<Database>, page: FeaturesPage = {}): AsyncGenerator<string> {
  return renderFeatures(db, page, {
    page: (last, want, citus) => sql`
      SELECT count(*)::int AS n, max(user_id) AS last, string_agg(json, ',' ORDER BY user_id) AS chunk
      FROM (SELECT user_id, json FROM features.user_features_json WHERE ${pageOf(last, want, citus)} ORDER BY user_id LIMIT ${want}) p`,
    head: (s) =>
      `{"run":${JSON.stringify(s.run)},"average_experiments_per_user":${JSON.stringify(s.average_experiments_per_user)},"users":[`,
    between: ',',
    tail: (count, last) => (page.limit === undefined ? ']}' : `],"next_after":${count === page.limit ? last : null}}`),
  });
}

/** The CSV columns, in order: the fields of a user in `GET /data`. */
export const CSV_COLUMNS = [
  'user_id',
  'name',
  'email',
  'total_experiments',
  'average_run_time',
  'top_compound_id',
  'top_compound_name',
  'top_compound_ids',
  'top_compound_experiments',
] as const satisfies readonly (keyof UserFeatures)[];

/**
 * One user (a row `f` of features.user_features) as a CSV record, rendered by PostgreSQL from the
 * same columns the stored JSON was rendered from, so numbers have the same text. `concat` makes a
 * null an empty field. (csv-stringify on rows parsed in Node measured 14 s per million users on
 * this machine, alone past STATEMENT_TIMEOUT_MS with the rest; this renders 1M users in seconds.)
 */
const csvRecord = (raw: boolean) =>
  sql<string>`concat(${sql.join(
    [
      sql.ref('f.user_id'),
      csvText('f.name', raw),
      csvText('f.email', raw),
      sql.ref('f.total_experiments'),
      sql.ref('f.average_run_time'),
      sql.ref('f.top_compound_id'),
      csvText('f.top_compound_name', raw),
      sql`array_to_string(f.top_compound_ids, ';')`,
      sql.ref('f.top_compound_experiments'),
    ],
    sql`, ',', `,
  )})`;

export interface CsvOptions {
  /** The exact text values, formulas and control characters included (for programs); default: spreadsheetSafe. */
  raw?: boolean;
  /** Told the run and the average before the first chunk (the API sends them as response headers). */
  onSnapshot?: (snapshot: FeaturesSnapshot) => void;
}

/**
 * `GET /data` as RFC 4180 CSV text chunks (see renderFeatures): a header row, then one record per
 * user with the same values as the JSON answer (text made spreadsheetSafe unless `raw`);
 * `top_compound_ids` is a `;`-separated list and a null is an empty field. Records end in CRLF.
 * The run and the average are not per-user values: `onSnapshot` is told them.
 */
export function featuresCsv(
  db: Kysely<Database>,
  page: FeaturesPage = {},
  { raw = false, onSnapshot = () => {} }: CsvOptions = {},
): AsyncGenerator<string> {
  const record = csvRecord(raw);
  return renderFeatures(db, page, {
    page: (last, want, citus) => sql`
      SELECT count(*)::int AS n, max(user_id) AS last, string_agg(${record}, ${'\r\n'} ORDER BY user_id) || ${'\r\n'} AS chunk
      FROM (SELECT * FROM features.user_features WHERE ${pageOf(last, want, citus)} ORDER BY user_id LIMIT ${want}) f`,
    head: (snapshot) => {
      onSnapshot(snapshot);
      return `${CSV_COLUMNS.join(',')}\r\n`;
    },
    between: '',
    tail: () => '',
  });
}

/** The named statement of a point read: PostgreSQL parses and plans it once per connection. */
const USER_JSON = { name: 'published-user-json', text: 'SELECT etl.published_user_json($1) AS json' };

/**
 * One user of the published run as its GET /data JSON (the text stored when the run computed its
 * features), or undefined. On PostgreSQL one statement in autocommit, `etl.published_user_json`
 * (sql/000018), which locks the published features before its snapshot and reads a miss again
 * behind the publish it may have raced (the why is in that file). A round trip instead of the
 * four of a transaction (docs/performance.md, "Point reads under load").
 *
 * On Citus the lock must not reach the workers (see lockPublished), which a function on the
 * coordinator cannot promise, so there the read is a REPEATABLE READ transaction, and a miss is
 * confirmed by a second one.
 */
export async function getUserJson(database: Pick<DbHandle, 'readers' | 'mode'>, userId: number): Promise<string | undefined> {
  const { readers, mode } = database;
  if (!isCitus(mode)) {
    const { rows } = await readers.pool.query<{ json: string | null }>({ ...USER_JSON, values: [userId] });
    return rows[0]?.json ?? undefined;
  }
  const read = () =>
    readers.db
      .transaction()
      .setIsolationLevel('repeatable read')
      .setAccessMode('read only')
      .execute(async (trx) => {
        await lockPublished(trx);
        return (await trx.selectFrom('features.user_features_json').select('json').where('user_id', '=', userId).executeTakeFirst())?.json;
      });
  return (await read()) ?? (await read());
}

/**
 * Call first in a REPEATABLE READ transaction that reads the features views. A publish attaches
 * the new run's partition and moves `etl.published` in one commit, and the partitions of older
 * runs are then detached CONCURRENTLY. Under READ COMMITTED a statement is planned under one
 * snapshot and run under a newer one, so it can pair the new `etl.published` with a plan made
 * before the new partition existed: a user present in both runs reads as unknown (measured: 160
 * of 53,000 point reads during back-to-back publishes). One REPEATABLE READ snapshot fixes that,
 * and locking the parent before the snapshot is taken (LOCK takes none) makes the detach of the
 * partition this snapshot reads wait for the transaction to end, which it otherwise only does for
 * transactions that already hold a lock on the parent.
 */
export async function lockPublished(trx: Kysely<Database>): Promise<void> {
  // On Citus the lock is taken on the coordinator only (where a retire's DETACH takes its lock
  // first): propagated, it would open the workers' side of this transaction, and so take their
  // snapshots, before the coordinator's, and a run published in between would read as the new
  // etl.published over the workers' old rows (half the users, measured). Opened later, by the
  // first read, the workers' snapshots follow the coordinator's. On PostgreSQL the setting is an
  // unused placeholder. SET, like LOCK, takes no snapshot; a SELECT here would take the
  // transaction's before the lock is granted (measured: it then misses a commit made while the
  // LOCK waited). One round trip for both statements.
  await sql`SET LOCAL citus.enable_ddl_propagation = off; LOCK TABLE mart.user_features IN ACCESS SHARE MODE`.execute(trx);
}

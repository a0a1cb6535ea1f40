import { sql, type Kysely } from 'kysely';
import type { Database, UserFeaturesView } from './db/schema.js';
import { listRuns } from './runs.js';

export type UserFeatures = UserFeaturesView;

/** Users per round trip while streaming; bounds the memory a response holds (~1.2 MB of JSON). */
const BATCH = 5000;

export interface FeaturesPage {
  /** Users with a larger user_id only (keyset pagination). */
  after?: number;
  /** At most this many users; the answer then ends with `next_after` (null on the last page). */
  limit?: number;
}

/**
 * `GET /data` as JSON text chunks, ordered by user_id: the published run, the average and the
 * users. Everything is read in one REPEATABLE READ snapshot, so the parts always come from the same
 * run even while another run publishes. Each user's JSON was rendered by PostgreSQL when the run
 * computed its features (mart.user_features.json); it is read in keyset pages of BATCH users, so
 * Node's memory stays flat however many users there are.
 *
 * The generator holds one connection from its first
 * `next()` until it finishes, throws, or is ended with `return()`: its owner must do one of those.
 */
export async function* featuresJson(db: Kysely<Database>, page: FeaturesPage = {}): AsyncGenerator<string> {
  const trx = await db.startTransaction().setIsolationLevel('repeatable read').setAccessMode('read only').execute();
  try {
    await lockPublished(trx);
    const average = await trx.selectFrom('features.average_experiments_per_user').selectAll().executeTakeFirst();
    const [run] = average ? await listRuns(trx, { runId: average.run_id, limit: 1 }) : [];
    yield `{"run":${JSON.stringify(run ?? null)},"average_experiments_per_user":${JSON.stringify(average?.average_experiments_per_user ?? null)},"users":[`;

    // Keyset pages of BATCH users, each joined into one string by PostgreSQL: the users' JSON is
    // stored text, so this is a concatenation there, and Node handles one row per page instead of
    // one per user (the per-row cursor path measured ~128k users/s at 1M users, bound by Node).
    // Each page must be an index range scan; a plan that reads all remaining users per page (no
    // statistics yet on a partition) would make the stream quadratic.
    await sql`SET LOCAL enable_seqscan = off`.execute(trx);
    await sql`SET LOCAL enable_bitmapscan = off`.execute(trx);
    let count = 0;
    let last = page.after ?? 0;
    for (;;) {
      const want = page.limit === undefined ? BATCH : Math.min(BATCH, page.limit - count);
      if (want <= 0) break;
      const { rows } = await sql<{ n: number; last: number | null; chunk: string | null }>`
        SELECT count(*)::int AS n, max(user_id) AS last, string_agg(json, ',' ORDER BY user_id) AS chunk
        FROM (SELECT user_id, json FROM features.user_features_json WHERE user_id > ${last} ORDER BY user_id LIMIT ${want}) p`.execute(trx);
      const got = rows[0]!;
      if (got.n === 0) break;
      yield count === 0 ? got.chunk! : `,${got.chunk!}`;
      count += got.n;
      last = got.last!;
      if (got.n < want) break;
    }
    yield page.limit === undefined ? ']}' : `],"next_after":${count === page.limit ? last : null}}`;
    await trx.commit().execute();
  } finally {
    // Thrown, or ended early by a reader that went away: end the snapshot. Kysely discards the
    // connection if even that fails.
    if (!trx.isCommitted && !trx.isRolledBack) await trx.rollback().execute().catch(() => {});
  }
}

/** One user's features from the published run, in a snapshot of its own (see lockPublished). */
export async function getUserFeatures(db: Kysely<Database>, userId: number): Promise<UserFeatures | undefined> {
  return db
    .transaction()
    .setIsolationLevel('repeatable read')
    .setAccessMode('read only')
    .execute(async (trx) => {
      await lockPublished(trx);
      return trx.selectFrom('features.user_features').selectAll().where('user_id', '=', userId).executeTakeFirst();
    });
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
async function lockPublished(trx: Kysely<Database>): Promise<void> {
  await sql`LOCK TABLE mart.user_features IN ACCESS SHARE MODE`.execute(trx);
}

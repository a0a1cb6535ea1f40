import { Kysely, PostgresDialect, sql } from 'kysely';
import type pg from 'pg';
import Cursor from 'pg-cursor';
import type { DbHandle } from './db/handle.js';
import type { Database, UserFeaturesView } from './db/schema.js';
import { listRuns } from './runs.js';

export type UserFeatures = UserFeaturesView;

/** Rows fetched per round trip while streaming; bounds the memory a response holds. */
const BATCH = 2000;

export interface FeaturesPage {
  /** Users with a larger user_id only (keyset pagination). */
  after?: number;
  /** At most this many users; the answer then ends with `next_after` (null on the last page). */
  limit?: number;
}

/**
 * `GET /data` as JSON text chunks, ordered by user_id: the published run, the average and the
 * users. Everything is read in one REPEATABLE READ snapshot, so the parts always come from the same
 * run even while another run publishes. PostgreSQL renders each user as JSON and the rows come
 * through a cursor, so Node's memory stays flat however many users there are.
 */
export async function* featuresJson(database: DbHandle, page: FeaturesPage = {}): AsyncGenerator<string> {
  const client = await database.pool.connect();
  let broken = false;
  let open = false;
  try {
    await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
    open = true;
    const db = onClient(client);
    const average = await db.selectFrom('features.average_experiments_per_user').selectAll().executeTakeFirst();
    const [run] = average ? await listRuns(db, { runId: average.run_id, limit: 1 }) : [];
    yield `{"run":${JSON.stringify(run ?? null)},"average_experiments_per_user":${JSON.stringify(average?.average_experiments_per_user ?? null)},"users":[`;

    let query = db
      .selectFrom('features.user_features as f')
      .select(['f.user_id', sql<string>`row_to_json(f)::text`.as('json')])
      .orderBy('f.user_id');
    if (page.after !== undefined) query = query.where('f.user_id', '>', page.after);
    if (page.limit !== undefined) query = query.limit(page.limit);
    const { sql: text, parameters } = query.compile();
    const cursor = client.query(new Cursor<{ user_id: number; json: string }>(text, [...parameters]));
    let first = true;
    let count = 0;
    let last: number | null = null;
    try {
      for (;;) {
        const rows = await cursor.read(BATCH);
        if (rows.length === 0) break;
        let chunk = '';
        for (const row of rows) {
          chunk += first ? row.json : `,${row.json}`;
          first = false;
        }
        count += rows.length;
        last = rows[rows.length - 1]!.user_id;
        yield chunk;
      }
    } finally {
      await cursor.close().catch(() => {
        broken = true;
      });
    }
    yield page.limit === undefined ? ']}' : `],"next_after":${count === page.limit ? last : null}}`;
    await client.query('COMMIT');
    open = false;
  } catch (error) {
    broken = true;
    throw error;
  } finally {
    // A reader that went away mid-stream leaves the transaction open: drop the connection then.
    if (open && !broken) await client.query('ROLLBACK').catch(() => (broken = true));
    client.release(broken);
  }
}

export async function getUserFeatures(database: DbHandle, userId: number): Promise<UserFeatures | undefined> {
  return database.db.selectFrom('features.user_features').selectAll().where('user_id', '=', userId).executeTakeFirst();
}

/** Kysely on one checked-out connection, so typed queries share its transaction and snapshot. */
function onClient(client: pg.PoolClient): Kysely<Database> {
  const connection = { query: client.query.bind(client), release() {} };
  const pool = { connect: async () => connection, end: async () => {} };
  return new Kysely<Database>({ dialect: new PostgresDialect({ pool: pool as unknown as pg.Pool }) });
}

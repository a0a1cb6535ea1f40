import type { Kysely } from 'kysely';
import type { Tables, UserFeaturesView } from './db/tables.js';
import { listRuns, type RunRecord } from './runs.js';

export type UserFeatures = UserFeaturesView;

export interface FeaturesAnswer {
  run: RunRecord | null;
  average_experiments_per_user: number | null;
  users: UserFeatures[];
}

/**
 * The published features, ordered by user_id, read in one snapshot so the run, the average and
 * the users always come from the same run even while another run publishes.
 */
export async function getFeatures(db: Kysely<Tables>): Promise<FeaturesAnswer> {
  return db
    .transaction()
    .setIsolationLevel('repeatable read')
    .setAccessMode('read only')
    .execute(async (trx) => {
      const average = await trx.selectFrom('features.average_experiments_per_user').selectAll().executeTakeFirst();
      const users = await trx.selectFrom('features.user_features').selectAll().orderBy('user_id').execute();
      const [run] = average ? await listRuns(trx, { runId: average.run_id, limit: 1 }) : [];
      return { run: run ?? null, average_experiments_per_user: average?.average_experiments_per_user ?? null, users };
    });
}

export async function getUserFeatures(db: Kysely<Tables>, userId: number): Promise<UserFeatures | undefined> {
  return db.selectFrom('features.user_features').selectAll().where('user_id', '=', userId).executeTakeFirst();
}

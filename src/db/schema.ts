import type { z } from '@hono/zod-openapi';
import type { ColumnType, Generated } from 'kysely';
import type { Run, RunWarning, UserFeatures } from '../http/schemas.js';

/** The schema as Kysely sees it: the tables and views the TypeScript reads and writes (Kysely calls this `Database`). */
export interface Database {
  'etl.runs': RunsTable;
  'etl.run_files': RunFilesTable;
  'etl.rejects': RejectsTable;
  'etl.published': { singleton: ColumnType<boolean, never, never>; run_id: number };
  /** The runs whose features are attached under mart.user_features (sql/000013-run-history.sql). */
  'etl.runs_with_features': { run_id: number };
  'features.user_features': UserFeaturesView;
  'features.user_features_json': { user_id: number; json: string };
  'features.average_experiments_per_user': AverageView;
  'features.experiments_histogram': { min_experiments: number; max_experiments: number; users: number };
  'features.top_compound_users': { compound_id: number; compound_name: string; users: number };
}

export interface RunsTable {
  run_id: Generated<number>;
  status: ColumnType<RunStatus, RunStatus | undefined, RunStatus>;
  step: string | null;
  started_at: ColumnType<Date, never, never>;
  finished_at: Date | null;
  error: string | null;
  users: number | null;
  experiments: number | null;
  average_experiments_per_user: number | null;
  /** Where the run's files came from (sql/000009-run-source.sql). */
  source: ColumnType<RunSource, RunSource | undefined, never>;
  /** What a person should look at although the run succeeded (sql/000014-warnings.sql). */
  warnings: ColumnType<RunWarning[], never, string>;
}

export type RunWarning = z.infer<typeof RunWarning>;

export type RunSource = z.infer<typeof Run>['source'];

export type RunStatus = z.infer<typeof Run>['status'];

export interface RunFilesTable {
  run_id: number;
  file: string;
  bytes: ColumnType<number, number | undefined, number>;
  rows_read: ColumnType<number, number | undefined, number>;
  rows_loaded: number | null;
  rows_rejected: number | null;
}

export interface RejectsTable {
  run_id: number;
  file: string;
  line: number;
  reason: string;
  /** The rejected line, or its first 1000 bytes (cut on a character boundary). */
  raw: string;
  /** The whole line's length in bytes; null where the loader could keep only a preview. */
  raw_bytes: number | null;
  /** A knock-on reject's cause: the rejected row of users.csv or compounds.csv it follows from. */
  cause_file: string | null;
  cause_line: number | null;
}

/** A row of features.user_features: the API's UserFeatures (test/run/shapes.test.ts checks the columns). */
export type UserFeaturesView = z.infer<typeof UserFeatures>;

export interface AverageView {
  run_id: number;
  average_experiments_per_user: number | null;
  users: number;
  experiments: number;
}

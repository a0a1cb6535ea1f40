// What every route's handlers are given: the database's readers, the run options, and the
// service-wide parts createApp makes once (the stream gate, the metrics, how a run is shown).
import type { DbHandle, Readers } from '../db/connect.js';
import type { RunRecord } from '../read/runs.js';
import type { UserReads } from '../read/users.js';
import type { EtlOptions } from '../run/pipeline.js';
import type { TokenOptions } from './auth.js';
import type { Metrics } from './metrics.js';
import type { BrowserOptions } from './origin.js';
import type { StreamGate } from './streams.js';
import type { UploadLimits } from './upload.js';

export type { Env } from './env.js';

export type ApiOptions = EtlOptions &
  TokenOptions &
  BrowserOptions &
  Partial<UploadLimits> & {
    /** SCHEDULE: a cron pattern on which the service runs the ETL on DATA_DIR (src/api/schedule.ts). */
    schedule?: string;
  };

export interface ApiContext {
  database: DbHandle;
  readers: Readers;
  options: ApiOptions;
  uploads: UploadLimits;
  gate: StreamGate;
  metrics: Metrics;
  /** A message with DATA_DIR's absolute path replaced by its name. */
  hidePaths: (text: string) => string;
  /** A run as clients see it (its error through hidePaths). */
  publicRun: (run: RunRecord) => RunRecord;
  /** The features page's reads (GET /data/users, a user's experiments), which also start its read indexes. */
  users: UserReads;
}

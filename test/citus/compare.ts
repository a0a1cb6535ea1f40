import type { DbHandle } from '../../src/db/connect.js';
import { featuresCsv, featuresJson } from '../../src/read/features.js';
import { query } from '../helpers.js';

/** GET /data's body as the service streams it, without the run record (ids and times differ between databases). */
export async function dataBody(database: DbHandle, page?: { limit?: number; after?: number }): Promise<string> {
  let text = '';
  for await (const chunk of featuresJson(database.readers.streams, page)) text += chunk;
  return text.slice(text.indexOf(',"average_experiments_per_user"'));
}

/** GET /data.csv's body (the run is only in its headers). */
export async function csvBody(database: DbHandle): Promise<string> {
  let text = '';
  for await (const chunk of featuresCsv(database.readers.streams)) text += chunk;
  return text;
}

/** A run's rejects with their causes (sorted by file and line), without the run id. */
export async function rejectsOf(database: DbHandle, runId: number) {
  return query(
    database,
    'SELECT file, line, reason, raw, raw_bytes, cause_file, cause_line FROM etl.rejects WHERE run_id = $1 ORDER BY file, line',
    [runId],
  );
}

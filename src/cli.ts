import { readConfig } from './config.js';
import { openDatabase } from './db/database.js';
import { RunInProgressError } from './errors.js';
import { RunFailedError, runEtl } from './pipeline.js';

/** `npm run etl`: one run without the server; prints the run record as JSON. */
const config = readConfig();
const database = await openDatabase(config);
let code = 0;
try {
  const run = await runEtl(database, config);
  console.log(JSON.stringify(run, null, 2));
} catch (error) {
  if (!(error instanceof RunFailedError || error instanceof RunInProgressError)) throw error;
  console.error(`etl: ${error.message}`);
  code = error instanceof RunInProgressError ? 3 : 2;
} finally {
  await database.close();
}
process.exit(code);

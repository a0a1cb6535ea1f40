import { stat } from 'node:fs/promises';
import path from 'node:path';
import { readConfig, type Config } from './support/config.js';
import { openDb, type DbHandle } from './db/connect.js';
import { RunInProgressError, StartupError } from './support/errors.js';
import { log, openLog, type Log } from './support/log.js';
import { SOURCES } from './load/inputs.js';
import { RunFailedError, runEtl, type RunProgress } from './run/pipeline.js';
import type { RunRecord } from './read/runs.js';
import { failStartup } from './support/startup.js';

/**
 * `npm run etl`: one run without the server. Progress goes to stderr (a bar on a terminal, a log
 * line every few seconds otherwise); the run record goes to stdout as JSON. `--force` publishes a
 * run the publish guard (MAX_DROP_RATIO) would refuse.
 *
 * Exit codes: 0 succeeded; 4 succeeded with warnings (published; each warning also on stderr);
 * 2 the run failed; 3 another run is in progress; 1 it could not start.
 */
// A start-up failure is one line and exit code 1. With the embedded PostgreSQL, a server another
// process runs on the same EMBEDDED_PG_DIR (`npm start`) is used as it is, never stopped: the run
// lands in the database that service reads, and the run lock keeps the two from running at once.
let config: Config;
let database: DbHandle;
openLog();
let force = false;
try {
  for (const arg of process.argv.slice(2)) {
    if (arg === '--force') force = true;
    else throw new StartupError(`unknown argument "${arg}"; the only one is --force (publish even a drop the publish guard refuses)`);
  }
  config = readConfig();
  database = await openDb({ ...config, shareEmbedded: true });
} catch (error) {
  await failStartup(error);
  throw error; // not reached: failStartup exits
}
const tty = process.stderr.isTTY === true;
const sizes = await Promise.all(
  SOURCES.map((s) =>
    stat(path.join(config.dataDir, s.file)).then(
      (i) => i.size,
      () => 0,
    ),
  ),
);
const totalBytes = sizes.reduce((a, b) => a + b, 0);

let shown = '';
const show = (text: string) => {
  if (tty) process.stderr.write(`\r\x1b[2K${text}`);
  // Not a terminal: progress is a log event like the others (a JSON line unless LOG_FORMAT=pretty).
  else if (text !== shown) log(text);
  shown = text;
};
// Log lines go above the bar on a terminal.
const cliLog: Log = (message, fields, level) => {
  if (tty && shown) process.stderr.write('\r\x1b[2K');
  log(message, fields, level);
  if (tty && shown) process.stderr.write(shown);
};

/** The run succeeded and published, with warnings (docs/day-two.md): distinct from 0 so a scheduler can tell. */
const EXIT_WARNINGS = 4;

let latest: RunProgress | null = null;
const timer = setInterval(() => latest && show(progress(latest)), tty ? 250 : 5000);
let code = 0;
try {
  const run = await runEtl(database, { ...config, force, log: cliLog, onProgress: (p) => (latest = p) });
  clearInterval(timer);
  show(summary(run));
  if (tty) process.stderr.write('\n');
  for (const warning of run.warnings) process.stderr.write(`etl: warning: ${warning.message}\n`);
  console.log(JSON.stringify(run, null, 2));
  if (run.warnings.length > 0) code = EXIT_WARNINGS;
} catch (error) {
  clearInterval(timer);
  if (tty && shown) process.stderr.write('\n');
  if (error instanceof RunFailedError || error instanceof RunInProgressError) {
    process.stderr.write(`etl: ${error.message}\n`);
    code = error instanceof RunInProgressError ? 3 : 2;
  } else {
    // A defect, not the input: its message, still no stack trace.
    log(`etl: ${error instanceof Error ? error.message : String(error)}`, {}, 'error');
    code = 1;
  }
} finally {
  await database.close();
}
process.exit(code);

function progress({ runId, step, files }: RunProgress): string {
  const bytes = Object.values(files).reduce((sum, f) => sum + f.bytesRead, 0);
  const rows = Object.values(files).reduce((sum, f) => sum + f.rowsRead, 0);
  return line(runId, bytes, rows, step);
}

function summary(run: RunRecord): string {
  const files = Object.values(run.files);
  const bytes = files.reduce((sum, f) => sum + f.bytes, 0);
  const rows = files.reduce((sum, f) => sum + f.rows_read, 0);
  return line(
    run.run_id,
    bytes,
    rows,
    run.warnings.length > 0 ? `${run.status} with ${run.warnings.length} warning${run.warnings.length === 1 ? '' : 's'}` : run.status,
  );
}

function line(runId: number, bytes: number, rows: number, step: string): string {
  const share = totalBytes > 0 ? Math.min(1, bytes / totalBytes) : 1;
  const bar = tty ? `[${'#'.repeat(Math.round(share * 30)).padEnd(30, '.')}] ` : '';
  return `run ${runId} ${bar}${(share * 100).toFixed(0)}% of ${(totalBytes / 2 ** 20).toFixed(1)} MB loaded, ${rows.toLocaleString('en-US')} rows read; ${step}`;
}

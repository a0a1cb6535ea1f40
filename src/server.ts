import path from 'node:path';
import { serve } from '@hono/node-server';
import { createApp } from './api/app.js';
import { isLoopback } from './api/auth.js';
import { removeLeftUploads } from './api/upload.js';
import { readConfig } from './config.js';
import { log, logConfig } from './log.js';
import { openDb } from './db/handle.js';
import { recoverInterruptedRuns, runsSettled } from './pipeline.js';

const config = readConfig();
const database = await openDb(config);
await recoverInterruptedRuns(database);
const leftUploads = await removeLeftUploads(config.uploadTmpDir);
if (leftUploads > 0) log(`removed ${leftUploads} upload director${leftUploads > 1 ? 'ies' : 'y'} left by a stopped process`);
const stop = new AbortController();
const app = createApp(database, { ...config, signal: stop.signal });
const server = serve({ fetch: app.fetch, port: config.port, hostname: config.host }, (info) => {
  // The address really bound (HOST), not a name that may not match it.
  const host = info.family === 'IPv6' ? `[${info.address}]` : info.address;
  log(`listening on http://${host}:${info.port} (${config.databaseUrl ? 'DATABASE_URL' : 'embedded PostgreSQL'})`, {
    address: info.address,
    port: info.port,
    database: config.databaseUrl ? 'DATABASE_URL' : 'embedded',
  });
  if (!config.apiToken && !isLoopback(config.host)) {
    log(`HOST=${config.host} is reachable from other machines and API_TOKEN is not set: anyone who can reach it can run the ETL and upload data; set API_TOKEN`, { host: config.host }, 'warn');
  }
  // A newcomer's next commands, with the port actually taken.
  const base = `http://${['0.0.0.0', '[::]'].includes(host) ? 'localhost' : host}:${info.port}`;
  const commands: [command: string, what: string][] = [
    [`curl -X POST ${base}/data`, `run the ETL on ${path.relative(process.cwd(), config.dataDir) || '.'}`],
    [`curl ${base}/data`, 'the features of every user'],
    [`curl ${base}/docs`, 'the API, interactive (open it in a browser)'],
    ['bin/query.sh', 'the same features, with psql'],
  ];
  if (logConfig.format === 'pretty') {
    const width = Math.max(...commands.map(([command]) => command.length));
    process.stderr.write(`\n  try:\n${commands.map(([command, what]) => `    ${command.padEnd(width)}  # ${what}\n`).join('')}\n`);
  } else {
    log('try these commands', { try: commands.map(([command]) => command) });
  }
});

let stopping = false;
/**
 * A run in progress is cancelled: its transaction rolls back, it is recorded as failed, its upload
 * directory is removed, and readers keep the previous results. Streamed answers in progress are cut
 * off (the same signal), which gives their connections back. Then the pools and the embedded server
 * stop. Past the deadline the process kills itself: process.exit() waits for libuv's worker threads,
 * so one stuck in a system call (an open() on a FIFO, say) would make it hang forever.
 */
function shutdown(code: number): void {
  if (stopping) return;
  stopping = true;
  const deadline = setTimeout(() => {
    log('shutdown did not finish within 15 s: exiting with SIGKILL');
    process.kill(process.pid, 'SIGKILL');
  }, 15_000);
  deadline.unref();
  server.close();
  stop.abort();
  void runsSettled()
    .then(() => database.close())
    .then(
      () => process.exit(code),
      () => process.exit(1),
    );
}
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    if (!stopping) log(`${signal}: shutting down`, { signal });
    shutdown(0);
  });
}
// The last resort, not the fix: code that can throw on a client's input is fixed where it throws
// (every upload listener is guarded, see src/api/upload.ts). Should a defect still throw out of an
// event handler, the process does not keep running in an unknown state, nor die leaving a run
// `running`, its upload directory and the embedded server behind: it stops as on SIGTERM, exit 1.
process.on('uncaughtException', (error, origin) => {
  log(`${origin}: ${error?.name}: ${error?.message}; shutting down`, { origin }, 'error');
  shutdown(1);
});

import type { AddressInfo } from 'node:net';
import { serve, type ServerType } from '@hono/node-server';
import { createApp } from './api/app.js';
import { isLoopback } from './api/auth.js';
import { removeLeftUploads } from './api/upload.js';
import { readConfig, type Config } from './support/config.js';
import { StartupError } from './support/errors.js';
import { flushLogSync, log, logConfig, openLog } from './support/log.js';
import { openDb, type DbHandle } from './db/connect.js';
import { shown as shownPath } from './db/embedded.js';
import { recoverInterruptedRuns } from './run/pipeline.js';
import { runsSettled } from './run/runs-in-process.js';
import { failStartup } from './support/startup.js';

// Start-up: any failure (a bad setting, the port taken, the database unusable, the embedded
// PostgreSQL in use by another process) is one log line and exit code 1, after stopping what this
// process started.
let database: DbHandle | undefined;
let config: Config;
let server: ServerType;
const stop = new AbortController();
openLog();
try {
  config = readConfig();
  database = await openDb(config);
  await recoverInterruptedRuns(database);
  const leftUploads = await removeLeftUploads(config.uploadTmpDir);
  if (leftUploads > 0) log(`removed ${leftUploads} upload director${leftUploads > 1 ? 'ies' : 'y'} left by a stopped process`);
  const app = createApp(database, { ...config, signal: stop.signal });
  server = await listen(app.fetch, config);
} catch (error) {
  await failStartup(error, () => database?.close() ?? Promise.resolve());
  throw error; // not reached: failStartup exits
}
server.on('error', (error) => log(`HTTP server error: ${error.message}`, {}, 'error'));

{
  const info = server.address() as AddressInfo;
  // The address really bound (HOST), not a name that may not match it.
  const host = info.family === 'IPv6' ? `[${info.address}]` : info.address;
  const mode = database.mode;
  const on = mode.kind === 'citus' ? `: Citus, ${mode.workers} workers, ${mode.shards} shards` : '';
  // A newcomer's next commands, with the port actually taken.
  const base = `http://${['0.0.0.0', '[::]'].includes(host) ? 'localhost' : host}:${info.port}`;
  const files = shownPath(config.dataDir);
  const embedded = database.embedded;
  const folder = embedded ? `; database folder ${shownPath(embedded.cluster)} (PostgreSQL ${embedded.version})` : '';
  log(
    `listening on http://${host}:${info.port} (${config.databaseUrl ? 'DATABASE_URL' : 'embedded PostgreSQL'}${on}); dashboard ${base}/; input files in ${files}${folder}`,
    {
      address: info.address,
      port: info.port,
      dashboard: `${base}/`,
      data_dir: config.dataDir,
      ...(embedded ? { database_folder: embedded.cluster, postgresql: embedded.version } : {}),
      database: config.databaseUrl ? 'DATABASE_URL' : 'embedded',
      mode: mode.kind,
      ...(mode.kind === 'citus' ? { workers: mode.workers, shards: mode.shards } : {}),
    },
  );
  if (!config.apiToken && !isLoopback(config.host)) {
    log(
      `HOST=${config.host} is reachable from other machines and API_TOKEN is not set: anyone who can reach it can run the ETL and upload data; set API_TOKEN`,
      { host: config.host },
      'warn',
    );
  }
  const commands: [command: string, what: string][] = [
    [`${base}/`, 'the dashboard (open it in a browser)'],
    [`curl -X POST ${base}/data`, `run the ETL on ${files}`],
    [`curl ${base}/data`, 'the features of every user'],
    [`curl ${base}/docs`, 'the API, interactive (open it in a browser)'],
    ['bin/query.sh', 'the same features, with psql'],
  ];
  if (logConfig().format === 'pretty') {
    const width = Math.max(...commands.map(([command]) => command.length));
    process.stderr.write(`\n  try:\n${commands.map(([command, what]) => `    ${command.padEnd(width)}  # ${what}\n`).join('')}\n`);
  } else {
    log('try these commands', { try: commands.map(([command]) => command) });
  }
}

/** Listens on HOST:PORT; a port taken or an address not of this machine is a StartupError. */
function listen(fetch: Parameters<typeof serve>[0]['fetch'], { host, port }: Config): Promise<ServerType> {
  return new Promise((resolve, reject) => {
    const server = serve({ fetch, port, hostname: host });
    server.once('listening', () => resolve(server));
    server.once('error', (error: NodeJS.ErrnoException) => {
      const reasons: Record<string, string> = {
        EADDRINUSE: `port ${port} is taken (another npm start?): set PORT`,
        EACCES: `port ${port} needs privileges this process does not have: set PORT (1024 or above)`,
        EADDRNOTAVAIL: `HOST=${host} is not an address of this machine: set HOST`,
        ENOTFOUND: `HOST=${host} is not a known name: set HOST`,
      };
      reject(new StartupError(reasons[error.code ?? ''] ?? `cannot listen on ${host}:${port}: ${error.message}`));
    });
  });
}

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
    // SIGKILL runs no 'exit' handler: the lines still buffered are written now.
    flushLogSync();
    process.kill(process.pid, 'SIGKILL');
  }, 15_000);
  deadline.unref();
  server.close();
  stop.abort();
  void runsSettled()
    .then(() => database!.close())
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

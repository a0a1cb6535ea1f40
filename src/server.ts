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
const shutdown = new AbortController();
const app = createApp(database, { ...config, signal: shutdown.signal });
const server = serve({ fetch: app.fetch, port: config.port, hostname: config.host }, (info) => {
  // The address really bound (HOST), not a name that may not match it.
  const host = info.family === 'IPv6' ? `[${info.address}]` : info.address;
  const mode = database.mode;
  const on = mode.kind === 'citus' ? `: Citus, ${mode.workers} workers, ${mode.shards} shards` : '';
  log(`listening on http://${host}:${info.port} (${config.databaseUrl ? 'DATABASE_URL' : 'embedded PostgreSQL'}${on})`, {
    address: info.address,
    port: info.port,
    database: config.databaseUrl ? 'DATABASE_URL' : 'embedded',
    mode: mode.kind,
    ...(mode.kind === 'citus' ? { workers: mode.workers, shards: mode.shards } : {}),
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
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    if (stopping) return;
    stopping = true;
    log(`${signal}: shutting down`, { signal });
    // A run in progress is cancelled: its transaction rolls back, it is recorded as failed, and
    // readers keep the previous results. Streamed answers in progress are cut off (the same signal),
    // which gives their connections back. Then the pools and the embedded server stop.
    // Past the deadline the process kills itself: process.exit() waits for libuv's worker threads,
    // so one stuck in a system call (an open() on a FIFO, say) would make it hang forever.
    const deadline = setTimeout(() => {
      log('shutdown did not finish within 15 s: exiting with SIGKILL');
      process.kill(process.pid, 'SIGKILL');
    }, 15_000);
    deadline.unref();
    server.close();
    shutdown.abort();
    void runsSettled()
      .then(() => database.close())
      .then(
        () => process.exit(0),
        () => process.exit(1),
      );
  });
}

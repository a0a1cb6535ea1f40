import { serve } from '@hono/node-server';
import { createApp } from './api/app.js';
import { readConfig } from './config.js';
import { log } from './log.js';
import { openDatabase } from './db/database.js';
import { recoverInterruptedRuns, runsSettled } from './pipeline.js';

const config = readConfig();
const database = await openDatabase(config);
await recoverInterruptedRuns(database);
const shutdown = new AbortController();
const app = createApp(database, { ...config, signal: shutdown.signal });
const server = serve({ fetch: app.fetch, port: config.port, hostname: '0.0.0.0' }, (info) => {
  log(`listening on http://localhost:${info.port} (${config.databaseUrl ? 'DATABASE_URL' : 'embedded PostgreSQL'})`);
});

let stopping = false;
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    if (stopping) return;
    stopping = true;
    log(`${signal}: shutting down`);
    // A run in progress is cancelled: its transaction rolls back, it is recorded as failed, and
    // readers keep the previous results. Then the pool and the embedded server stop.
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

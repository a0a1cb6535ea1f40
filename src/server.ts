import { serve } from '@hono/node-server';
import { createApp } from './api/app.js';
import { readConfig } from './config.js';
import { openDatabase } from './db/database.js';
import { recoverInterruptedRuns } from './pipeline.js';

const config = readConfig();
const database = await openDatabase(config);
await recoverInterruptedRuns(database);
const app = createApp(database, config);
const server = serve({ fetch: app.fetch, port: config.port, hostname: '0.0.0.0' }, (info) => {
  console.log(`listening on http://localhost:${info.port} (${config.databaseUrl ? 'DATABASE_URL' : 'embedded PostgreSQL'})`);
});

let stopping = false;
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    if (stopping) return;
    stopping = true;
    console.log(`${signal}: shutting down`);
    // A run still in progress is rolled back when its connections close: nothing half-published.
    const deadline = setTimeout(() => process.exit(1), 15_000);
    deadline.unref();
    server.close();
    void database.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  });
}

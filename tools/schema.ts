// `npm run schema`: rewrites sql/schema.sql from a freshly migrated database (see
// src/db/schema-dump.ts). With DATABASE_URL, a scratch database on that server (dropped after);
// without, an embedded PostgreSQL in a temporary directory, like `npm test`.
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { startEmbeddedPostgres } from '../src/db/embedded.js';
import { migrate } from '../src/db/migrate.js';
import { SCHEMA_FILE } from '../src/db/sql-paths.js';
import { dumpSchema } from '../src/db/schema-dump.js';
import { freePort } from '../test/service.js';

let adminUrl = process.env.DATABASE_URL;
let stop = async () => {};
if (!adminUrl) {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'lab-etl-schema-'));
  await chmod(dir, 0o755); // as root, the server runs as user postgres and must reach its directory
  const embedded = await startEmbeddedPostgres(path.join(dir, 'pgdata'), await freePort());
  adminUrl = embedded.url;
  stop = async () => {
    await embedded.stop();
    await rm(dir, { recursive: true, force: true });
  };
}

const name = `lab_etl_schema_${process.pid}`;
const admin = new pg.Client(adminUrl);
await admin.connect();
try {
  await admin.query(`CREATE DATABASE ${name}`);
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  const pool = new pg.Pool({ connectionString: url.toString(), max: 1 });
  pool.on('error', () => {}); // its connection may still be closing when the database is dropped
  try {
    await migrate(pool);
    await writeFile(SCHEMA_FILE, await dumpSchema(pool));
  } finally {
    await pool.end();
  }
  console.log(`wrote ${path.relative(process.cwd(), SCHEMA_FILE)}`);
} finally {
  await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`).catch(() => {});
  await admin.end();
  await stop();
}

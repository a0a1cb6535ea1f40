// `npm test`: one PostgreSQL for the whole suite, then node's test runner over the test files.
// DATABASE_URL set: each test database is made on that server. Unset: an embedded PostgreSQL is
// started in a temporary directory and removed afterwards. Either way the schema is migrated once,
// into a template database that test/helpers.ts testDatabase() copies (CREATE DATABASE ... TEMPLATE).
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { chmod, mkdtemp, readdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { startEmbeddedPostgres } from '../src/db/embedded.js';
import { migrate } from '../src/db/migrate.js';
import { buildTree } from './build.js';
import { freePort } from './service.js';

const here = path.dirname(new URL(import.meta.url).pathname);
const root = path.resolve(here, '..');
// Options (--test-name-pattern=..., say) go to node's test runner (test/run-files.mjs); other arguments are test files.
const runnerOptions = process.argv.slice(2).filter((a) => a.startsWith('--'));
const selected = process.argv.slice(2).filter((a) => !a.startsWith('--'));
// Every *.test.ts under test/ but the fault, browser and Citus tests (their own npm scripts).
const files =
  selected.length > 0
    ? selected
    : (await readdir(here, { recursive: true }))
        .filter((f) => f.endsWith('.test.ts') && !/^(faults|browser|citus)\//.test(f))
        .sort()
        .map((f) => path.join(here, f));

/**
 * Test files run at once. Most of a file's time is spent waiting (on PostgreSQL, on a service
 * process starting, on a timeout under test), so several share the two cores of a small machine
 * well. Each file has its own databases, temporary directories and ports.
 */
const concurrency = Math.max(1, Number(process.env.TEST_CONCURRENCY) || 4);

// The checkout compiled once (test/build.ts): the test files, and every service, CLI and parse
// worker they start, run from it on plain node rather than each through tsx.
const built = await mkdtemp(path.join(os.tmpdir(), 'lab-etl-build-'));
await chmod(built, 0o755); // as root, embedded PostgreSQL runs as the user postgres (see below)
const removeBuilt = () => rm(built, { recursive: true, force: true });
await buildTree(root, built);
const compiledFiles = files.map((f) => path.join(built, path.relative(root, path.resolve(f)).replace(/\.tsx?$/, '.js')));

let url = process.env.DATABASE_URL;
let stopServer = async () => {};
if (!url) {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'lab-etl-test-'));
  // As root the server runs as the user postgres: in a folder it cannot reach, the cluster would be
  // moved to /var/lib/lab-features-etl (src/db/embedded-access.ts) and outlive the suite's removal.
  await chmod(dir, 0o755);
  const embedded = await startEmbeddedPostgres(path.join(dir, 'pgdata'), await freePort());
  url = embedded.url;
  stopServer = async () => {
    await embedded.stop();
    await rm(dir, { recursive: true, force: true });
  };
}

const template = `lab_etl_template_${process.pid}`;
const admin = async (sql: string) => {
  const client = new pg.Client(url);
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
};
await admin(`CREATE DATABASE ${template}`);
const templateUrl = new URL(url);
templateUrl.pathname = `/${template}`;
// A pool of one, ended before any test runs: CREATE DATABASE ... TEMPLATE refuses a template with
// sessions on it.
const pool = new pg.Pool({ connectionString: templateUrl.toString(), max: 1 });
try {
  await migrate(pool);
} finally {
  await pool.end();
}

/**
 * The files that take longest (each 15-60 s on a loaded machine: many runs, or service processes
 * and clusters of their own), started first: started last, one of them would keep the suite
 * running long after the other slots had nothing left to do. The rest follow in name order.
 */
const SLOWEST = [
  'run/point-reads',
  'server/embedded',
  'api/warnings',
  'load/bad-input',
  'load/typed-path',
  'server/backup',
  'api/security',
];
const rank = (file: string) => {
  const i = SLOWEST.findIndex((name) => file.endsWith(`${name}.test.js`));
  return i < 0 ? SLOWEST.length : i;
};
const ordered = [...compiledFiles].sort((a, b) => rank(a) - rank(b));
// test/run-files.mjs: node's test runner (node:test run()) in the order given, with npm test's reporters.
const child = spawn(
  process.execPath,
  ['--enable-source-maps', path.join(here, 'run-files.mjs'), JSON.stringify({ files: ordered, concurrency, options: runnerOptions })],
  {
    stdio: 'inherit',
    // The tests' own in-process logs: warnings and errors only, unless LOG_LEVEL says otherwise.
    // Whatever a test file writes to stderr (these logs, the output of the services it starts) is
    // shown only when one of its tests fails (test/quiet-spec.mjs).
    // TEST_CHECKOUT: the checkout itself, for the files a test writes back into it (screenshots).
    env: { LOG_LEVEL: 'warn', ...process.env, TEST_DATABASE_URL: url, TEST_TEMPLATE_DATABASE: template, TEST_CHECKOUT: root },
  },
);
const [code] = (await once(child, 'exit')) as [number | null];
await admin(`DROP DATABASE IF EXISTS ${template}`).catch(() => {});
await stopServer();
await removeBuilt();
process.exit(code ?? 1);

// `npm test`: one PostgreSQL for the whole suite, then node's test runner over test/*.test.ts.
// DATABASE_URL set: each test file gets a fresh database on that server. Unset: an embedded
// PostgreSQL is started in a temporary directory and removed afterwards.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { chmod, mkdtemp, readdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { startEmbeddedPostgres } from '../src/db/embedded.js';
import { freePort } from './service.js';

const here = path.dirname(new URL(import.meta.url).pathname);
const selected = process.argv.slice(2);
const files = selected.length > 0
  ? selected
  : (await readdir(here)).filter((f) => f.endsWith('.test.ts')).sort().map((f) => path.join('test', f));

let url = process.env.DATABASE_URL;
let cleanup = async () => {};
if (!url) {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'lab-etl-test-'));
  // As root the server runs as the user postgres: in a folder it cannot reach, the cluster would be
  // moved to /var/lib/lab-features-etl (src/db/embedded-access.ts) and outlive the suite's removal.
  await chmod(dir, 0o755);
  const embedded = await startEmbeddedPostgres(path.join(dir, 'pgdata'), await freePort());
  url = embedded.url;
  cleanup = async () => {
    await embedded.stop();
    await rm(dir, { recursive: true, force: true });
  };
}

const reporters = ['--test-reporter=spec', '--test-reporter-destination=stdout',
  `--test-reporter=${path.join(here, 'summary-reporter.mjs')}`, '--test-reporter-destination=stdout'];
const child = spawn(process.execPath, ['--import', 'tsx', '--test', ...reporters, ...files], {
  stdio: 'inherit',
  // The tests' own in-process logs (a line per request) would bury the report: warnings and errors
  // only, unless LOG_LEVEL says otherwise. Services the tests start log at info (test/service.ts).
  env: { LOG_LEVEL: 'warn', ...process.env, TEST_DATABASE_URL: url },
});
const [code] = (await once(child, 'exit')) as [number | null];
await cleanup();
process.exit(code ?? 1);

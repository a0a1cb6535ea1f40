// `npm run test:citus`: the Citus mode's tests (test/citus/*.test.ts) against the coordinator at
// CITUS_URL, next to the plain PostgreSQL that test/runner.ts gives every suite (embedded, or
// DATABASE_URL) for the side-by-side comparisons. Without CITUS_URL there is nothing to run them on.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { readdir } from 'node:fs/promises';
import path from 'node:path';

if (!process.env.CITUS_URL) {
  console.log('test:citus skipped: CITUS_URL is not set (it needs a Citus coordinator with workers, see README "Scaling out with Citus")');
  process.exit(0);
}
const here = path.dirname(new URL(import.meta.url).pathname);
const selected = process.argv.slice(2);
const files =
  selected.length > 0
    ? selected
    : (await readdir(here))
        .filter((f) => f.endsWith('.test.ts'))
        .sort()
        .map((f) => path.join('test', 'citus', f));
// Tests that stop a node of the cluster (*-fault.test.ts) run after the others, alone: test files
// run side by side, and those on the same cluster would see the node go.
const batches = [files.filter((f) => !f.endsWith('-fault.test.ts')), files.filter((f) => f.endsWith('-fault.test.ts'))];
let failed = false;
for (const batch of batches.filter((b) => b.length > 0)) {
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(here, '..', 'runner.ts'), ...batch], { stdio: 'inherit' });
  const [code] = (await once(child, 'exit')) as [number | null];
  failed ||= code !== 0;
}
process.exit(failed ? 1 : 0);

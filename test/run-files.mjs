// node's test runner over the files test/runner.ts gives it, in the order given: `node --test FILES`
// sorts them by name, and the slowest files (which sort late: server/) would then start last and
// keep the suite running while the other slots had nothing left to do. Plain JavaScript, as the
// reporters are: it runs before any loader is in place.
//
// Arguments: one JSON object { files, concurrency, options }, options being the runner's `--...`
// arguments: --test-name-pattern=RE, and --test-reporter=R (with --test-reporter-destination=stdout)
// for a reporter beside the two of npm test.
import path from 'node:path';
import { run } from 'node:test';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const { files, concurrency, options } = JSON.parse(process.argv[2]);

const testNamePatterns = [];
const reporters = [path.join(here, 'quiet-spec.mjs'), path.join(here, 'summary-reporter.mjs')];
for (const option of options) {
  const [name, value] = [option.slice(0, option.indexOf('=') >>> 0), option.slice(option.indexOf('=') + 1)];
  if (name === '--test-name-pattern') testNamePatterns.push(value);
  else if (name === '--test-reporter') reporters.push(path.resolve(value));
  else if (option !== '--test-reporter-destination=stdout') throw new Error(`test/runner.ts: unknown option ${option}`);
}

const stream = run({ files, concurrency, ...(testNamePatterns.length > 0 ? { testNamePatterns } : {}) });
stream.on('test:fail', () => {
  process.exitCode = 1;
});
for (const file of reporters) {
  const { default: reporter } = await import(file);
  stream.compose(reporter).pipe(process.stdout);
}

// A node:test reporter that ends `npm test` with one line a person can read at a glance: how many
// test files and tests ran, how many passed and failed, and how long it took. Plain JavaScript:
// node loads reporters before tsx's loader is in place.

/** @param {AsyncIterable<{ type: string, data: any }>} source */
export default async function* summary(source) {
  const started = performance.now();
  const files = new Set();
  let passed = 0;
  let failed = 0;
  let skipped = 0;
  for await (const { type, data } of source) {
    if (type !== 'test:pass' && type !== 'test:fail') continue;
    if (data.file) files.add(data.file);
    if (data.details?.type === 'suite') continue;
    if (type === 'test:fail') failed++;
    else if (data.skip || data.todo) skipped++;
    else passed++;
  }
  const seconds = ((performance.now() - started) / 1000).toFixed(1);
  const tests = passed + failed + skipped;
  yield `\n${files.size} test file${files.size === 1 ? '' : 's'}, ${tests} tests: ${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''} in ${seconds} s\n`;
}

// node's spec reporter, but what a test file writes to stderr (the service's logs of the errors its
// tests provoke on purpose, the output of the service processes it starts) is held back and shown
// only when a test of that file fails, just before the failure. Passing tests read as passing.
// Plain JavaScript: node loads reporters before tsx's loader is in place.
import { Readable } from 'node:stream';
import { spec } from 'node:test/reporters';

/** @param {AsyncIterable<{ type: string, data: any }>} source */
export default async function* quietSpec(source) {
  yield* Readable.from(held(source)).pipe(new spec());
}

/** @param {AsyncIterable<{ type: string, data: any }>} source */
async function* held(source) {
  // A file's stderr arrives as it is written, its test results later: keep it by file.
  /** @type {Map<string, string[]>} */
  const stderr = new Map();
  const failed = new Set();
  for await (const event of source) {
    const file = event.data?.file;
    if (event.type === 'test:stderr' && file && !failed.has(file)) {
      if (!stderr.has(file)) stderr.set(file, []);
      stderr.get(file).push(event.data.message);
      continue;
    }
    if (event.type === 'test:fail' && file && !failed.has(file)) {
      failed.add(file);
      const text = (stderr.get(file) ?? []).join('');
      stderr.delete(file);
      if (text) {
        yield {
          type: 'test:stderr',
          data: { file, message: `── stderr of ${file} (shown because a test failed) ──\n${text}── end of stderr ──\n` },
        };
      }
    }
    // The file's last event: its held stderr is not needed any more.
    if (event.type === 'test:complete' && file && event.data.nesting === 0 && event.data.name === file) stderr.delete(file);
    yield event;
  }
}

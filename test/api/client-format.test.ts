// The overview page's script writes counts and byte sizes with format.ts's own functions, so the
// progress it shows while a run goes agrees with the server-rendered pages.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CLIENT_SCRIPT } from '../../src/dashboard/client-script.js';
import { bytes, count } from '../../src/dashboard/format.js';

test('the dashboard script compiles and formats counts and bytes exactly as the pages do', () => {
  assert.doesNotThrow(() => new Function(CLIENT_SCRIPT), 'the served script is valid JavaScript');
  for (const fn of [count, bytes]) assert.ok(CLIENT_SCRIPT.includes(fn.toString()), `${fn.name} comes from format.ts`);
  // The functions as the browser gets them: their source alone, with nothing of the module around it.
  const client = new Function(`${count.toString()}\n${bytes.toString()}\nreturn { count, bytes };`)() as {
    count: typeof count;
    bytes: typeof bytes;
  };
  for (const n of [null, undefined, 0, 7, 999, 1000, 12_345, 1_234_567, 9_007_199_254_740_991]) assert.equal(client.count(n), count(n));
  assert.equal(count(12_345), '12,345');
  assert.equal(count(null), '—');
  for (const n of [0, 999, 1000, 9_949, 9_950, 999_999, 1_000_000, 12_345_678_901, 5e15]) assert.equal(client.bytes(n), bytes(n));
  assert.equal(bytes(1_500_000), '1.5 MB');
});

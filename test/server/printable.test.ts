import { test } from 'node:test';
import assert from 'node:assert/strict';
import { printable } from '../../src/support/log.js';

test('printable escapes every control character and leaves other text alone', () => {
  assert.equal(printable('a\nb\r\tc\u0000\u001b[31m\u007f\u0085\u2028\u202e d'), 'a\\nb\\r\\tc\\x00\\x1b[31m\\x7f\\x85\\u2028\\u202e d');
  assert.equal(printable('users.csv, line 3: "Doe, Jane" — é 😀 \\n'), 'users.csv, line 3: "Doe, Jane" — é 😀 \\n');
  assert.equal(printable(printable('x\ny')), 'x\\ny', 'escaping twice changes nothing');
});

test('printable bounds its output, ellipsis included, without splitting an escape or a character', () => {
  assert.equal(printable('abcdef', 6), 'abcdef');
  assert.equal(printable('abcdefg', 6), 'abcde…');
  assert.equal(printable('abcd\u001bxyz', 6), 'abcd…', 'not half of \\x1b');
  assert.equal(printable('abcd😀xyz', 6), 'abcd…', 'not half of a surrogate pair');
  const long = printable('x'.repeat(2_000_000));
  assert.equal(long.length, 500);
  assert.ok(long.endsWith('…'));
});

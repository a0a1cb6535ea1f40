import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { CsvToCopy } from '../src/load/csv-to-copy.js';
import { InputError } from '../src/errors.js';

interface Row {
  line: number;
  problem: string | null;
  raw: string;
  fields: (string | null)[];
}

const unescape = (s: string) =>
  s.replace(/\\(.)/g, (_, c: string) => ({ t: '\t', n: '\n', r: '\r', '\\': '\\' })[c] ?? c);

/** Feeds `input` through the parser in chunks of `chunkSize` bytes and decodes the COPY rows. */
async function parse(input: string | Buffer, columns = ['a', 'b'], chunkSize = 7, maxRecordBytes?: number) {
  const bytes = Buffer.isBuffer(input) ? input : Buffer.from(input);
  const chunks: Buffer[] = [];
  for (let i = 0; i < bytes.length; i += chunkSize) chunks.push(bytes.subarray(i, i + chunkSize));
  const parser = new CsvToCopy({ file: 'test.csv', columns, maxRecordBytes });
  const out: Buffer[] = [];
  await pipeline(Readable.from(chunks), parser, async function* (source) {
    for await (const c of source) out.push(c as Buffer);
  });
  const text = Buffer.concat(out).toString('utf8');
  const rows: Row[] = text
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => {
      const [line, problem, raw, ...fields] = l.split('\t');
      return {
        line: Number(line),
        problem: problem === '\\N' ? null : unescape(problem!),
        raw: unescape(raw!),
        fields: fields.map((f) => (f === '\\N' ? null : unescape(f))),
      };
    });
  return { rows, stats: parser.stats };
}

test('the challenge quirks: blank first line, ",\\t" separators, CRLF, no final newline', async () => {
  const { rows } = await parse('\r\na,\tb\r\n1,\tx\r\n2,\ty');
  assert.deepEqual(rows, [
    { line: 3, problem: null, raw: '1,\tx', fields: ['1', 'x'] },
    { line: 4, problem: null, raw: '2,\ty', fields: ['2', 'y'] },
  ]);
});

test('every chunk size gives the same rows', async () => {
  const input = '\ufeffb, a ,extra\n\n"q,1", "say ""hi""" ,z\r\n  \t \n3,4,5\n"multi\nline",6,7';
  const expected = (await parse(input, ['a', 'b'], 1 << 16)).rows;
  assert.equal(expected.length, 3);
  for (const size of [1, 2, 3, 5, 8, 13]) assert.deepEqual((await parse(input, ['a', 'b'], size)).rows, expected);
});

test('columns are matched by name in any order, extras ignored, BOM and case ignored', async () => {
  const { rows } = await parse('\ufeffExtra, B ,A\n1,2,3\n');
  assert.deepEqual(rows[0]!.fields, ['3', '2']);
});

test('standard quoting: commas, doubled quotes, newlines inside quotes, spaces kept inside quotes', async () => {
  const { rows } = await parse('a,b\n"Doe, Jane",\t" say ""hi"" "\n"two\r\nlines",x\n4,y\n');
  assert.deepEqual(rows.map((r) => [r.line, r.fields]), [
    [2, ['Doe, Jane', ' say "hi" ']],
    [3, ['two\r\nlines', 'x']],
    [5, ['4', 'y']],
  ]);
  assert.equal(rows[1]!.raw, '"two\r\nlines",x');
});

test('LF and CRLF both work and a missing final newline loses no row', async () => {
  assert.deepEqual((await parse('a,b\n1,2\n3,4')).rows.map((r) => r.fields), [['1', '2'], ['3', '4']]);
  assert.deepEqual((await parse('a,b\r\n1,2\r\n3,4\r\n')).rows.map((r) => r.fields), [['1', '2'], ['3', '4']]);
});

test('a wrong field count is kept as a reject with its physical line', async () => {
  const { rows, stats } = await parse('\na,b\n\n1\n1,2,3\n5,6');
  assert.deepEqual(rows.map((r) => [r.line, r.problem, r.raw]), [
    [4, 'has 1 field but the header has 2', '1'],
    [5, 'has 3 fields but the header has 2', '1,2,3'],
    [6, null, '5,6'],
  ]);
  assert.equal(stats.rowsRead, 3);
});

test('bytes PostgreSQL cannot store become rejects, not a failed COPY', async () => {
  const input = Buffer.concat([Buffer.from('a,b\n1,é\n'), Buffer.from([0x32, 0x2c, 0x00, 0x0a]), Buffer.from('3,"x')]);
  const { rows } = await parse(input);
  assert.deepEqual(rows.map((r) => [r.line, r.problem]), [
    [2, null],
    [3, 'contains a NUL byte'],
    [4, 'has a quoted field that is never closed'],
  ]);
  const bad = await parse(Buffer.concat([Buffer.from('a,b\n1,'), Buffer.from([0xc3, 0x28]), Buffer.from('\n')]));
  assert.equal(bad.rows[0]!.problem, 'is not valid UTF-8');
});

test('an over-long record is rejected without being buffered and the next record still parses', async () => {
  const long = 'x'.repeat(5000);
  const { rows } = await parse(`a,b\n1,${long}\n"${long}\n${long}",2\n3,4`, ['a', 'b'], 512, 1000);
  assert.deepEqual(rows.map((r) => [r.line, r.problem]), [
    [2, 'is longer than 1000 bytes'],
    [3, 'is longer than 1000 bytes'],
    [5, null],
  ]);
  assert.ok(rows[0]!.raw.length <= 1001);
});

test('text after a closing quote is a reject', async () => {
  const { rows } = await parse('a,b\n"x"y,2\n3,4\n');
  assert.deepEqual(rows.map((r) => [r.line, r.problem]), [
    [2, 'has text after a closing quote'],
    [3, null],
  ]);
});

test('header problems fail the whole file with the file, line and column named', async () => {
  await assert.rejects(parse('\n\na,c\n1,2\n'), (e: unknown) => {
    assert.ok(e instanceof InputError);
    assert.equal(e.message, 'test.csv, line 3: missing required column "b" (the header has: a, c)');
    return true;
  });
  await assert.rejects(parse('a,b,a\n'), /line 1: the header names column "a" twice/);
  await assert.rejects(parse(''), /test\.csv: the file is empty: it has no header line/);
  await assert.rejects(parse('\r\n \r\n'), /the file is empty/);
});

test('a header-only file is valid and has no rows', async () => {
  const { rows, stats } = await parse('a,b');
  assert.deepEqual(rows, []);
  assert.equal(stats.rowsRead, 0);
});

test('backslashes and tabs inside values survive the COPY escaping', async () => {
  const { rows } = await parse('a,b\n"c:\\dir\\n","tab\there"\n');
  assert.deepEqual(rows[0]!.fields, ['c:\\dir\\n', 'tab\there']);
});

test('a quoted header with a problem names its own line, not the next one', async () => {
  // Found by test/csv-properties.test.ts: the quoted path counted the header's lines before checking it.
  await assert.rejects(parse('A, b ,"a"'), /test\.csv, line 1: the header names column "a" twice/);
  await assert.rejects(parse('\na,"b\nx",c\n1,2,3\n'), /test\.csv, line 2: missing required column "b"/);
});

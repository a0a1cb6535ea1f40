import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { CsvToCopy, MAX_RECORD_BYTES } from '../../src/load/csv-to-copy.js';
import { InputError } from '../../src/support/errors.js';

interface Row {
  line: number;
  problem: string | null;
  raw: string;
  /** The loader kept only a preview of the line (raw_is_preview). */
  preview?: true;
  fields: (string | null)[];
}

const unescape = (s: string) => s.replace(/\\(.)/g, (_, c: string) => ({ t: '\t', n: '\n', r: '\r', '\\': '\\' })[c] ?? c);

/** Feeds `input` through the parser in chunks of `chunkSize` bytes and decodes the COPY rows. */
async function parse(input: string | Buffer, columns = ['a', 'b'], chunkSize = 7, maxRecordBytes?: number) {
  const bytes = Buffer.isBuffer(input) ? input : Buffer.from(input);
  const chunks: Buffer[] = [];
  for (let i = 0; i < bytes.length; i += chunkSize) chunks.push(bytes.subarray(i, i + chunkSize));
  const parser = new CsvToCopy({ file: 'test.csv', columns, maxRecordBytes });
  const out: Buffer[] = [];
  await pipeline(Readable.from(chunks), parser, async (source: AsyncIterable<Buffer>) => {
    for await (const c of source) out.push(c);
  });
  const text = Buffer.concat(out).toString('utf8');
  const rows: Row[] = text
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => {
      const [line, problem, raw, preview, ...fields] = l.split('\t');
      assert.match(preview!, /^[tf]$/, 'raw_is_preview is a boolean');
      return {
        line: Number(line),
        problem: problem === '\\N' ? null : unescape(problem!),
        raw: unescape(raw!),
        // Only on the rows whose raw is a preview, so that the other rows read as before.
        ...(preview === 't' ? { preview: true } : {}),
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
  assert.deepEqual(
    rows.map((r) => [r.line, r.fields]),
    [
      [2, ['Doe, Jane', ' say "hi" ']],
      [3, ['two\r\nlines', 'x']],
      [5, ['4', 'y']],
    ],
  );
  assert.equal(rows[1]!.raw, '"two\r\nlines",x');
});

test('LF and CRLF both work and a missing final newline loses no row', async () => {
  assert.deepEqual(
    (await parse('a,b\n1,2\n3,4')).rows.map((r) => r.fields),
    [
      ['1', '2'],
      ['3', '4'],
    ],
  );
  assert.deepEqual(
    (await parse('a,b\r\n1,2\r\n3,4\r\n')).rows.map((r) => r.fields),
    [
      ['1', '2'],
      ['3', '4'],
    ],
  );
});

test('a wrong field count is kept as a reject with its physical line', async () => {
  const { rows, stats } = await parse('\na,b\n\n1\n1,2,3\n5,6');
  assert.deepEqual(
    rows.map((r) => [r.line, r.problem, r.raw]),
    [
      [4, 'has 1 field but the header has 2', '1'],
      [5, 'has 3 fields but the header has 2', '1,2,3'],
      [6, null, '5,6'],
    ],
  );
  assert.equal(stats.rowsRead, 3);
});

test('bytes PostgreSQL cannot store become rejects, not a failed COPY', async () => {
  const input = Buffer.concat([Buffer.from('a,b\n1,é\n'), Buffer.from([0x32, 0x2c, 0x00, 0x0a]), Buffer.from('3,"x')]);
  const { rows } = await parse(input);
  assert.deepEqual(
    rows.map((r) => [r.line, r.problem]),
    [
      [2, null],
      [3, 'contains a NUL byte'],
      [4, 'has a quoted field that is never closed'],
    ],
  );
  const bad = await parse(Buffer.concat([Buffer.from('a,b\n1,'), Buffer.from([0xc3, 0x28]), Buffer.from('\n')]));
  assert.equal(bad.rows[0]!.problem, 'is not valid UTF-8');
});

test('an over-long record is rejected without being buffered and the next record still parses', async () => {
  const long = 'x'.repeat(5000);
  const { rows } = await parse(`a,b\n1,${long}\n"${long}\n${long}",2\n3,4`, ['a', 'b'], 512, 1000);
  assert.deepEqual(
    rows.map((r) => [r.line, r.problem]),
    [
      [2, 'is longer than 1000 bytes'],
      [3, 'is longer than 1000 bytes'],
      [5, null],
    ],
  );
  assert.ok(rows[0]!.raw.length <= 1001);
});

test('text after a closing quote is a reject', async () => {
  const { rows } = await parse('a,b\n"x"y,2\n3,4\n');
  assert.deepEqual(
    rows.map((r) => [r.line, r.problem]),
    [
      [2, 'has text after a closing quote'],
      [3, null],
    ],
  );
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

test('MAX_RECORD_BYTES means what it says: limit bytes accepted, limit + 1 rejected, later lines right', async () => {
  // Small limit, every chunk size, LF and CRLF, plain and quoted (multi-line) records.
  for (const eol of ['\n', '\r\n']) {
    const exact = `1,${'x'.repeat(18)}`; // 20 bytes
    const over = `2,${'y'.repeat(19)}`; // 21 bytes
    const quotedExact = `"3${eol}${'q'.repeat(15 - eol.length)}",z`; // 20 bytes over two lines
    const input = ['a,b', exact, over, quotedExact, `"4${eol}${'q'.repeat(16 - eol.length)}",z`, '5,last'].join(eol);
    for (const size of [1, 2, 3, 5, 7, 13, 20, 21, 22, 64]) {
      const { rows } = await parse(input, ['a', 'b'], size, 20);
      assert.deepEqual(
        rows.map((r) => [r.line, r.problem, r.problem ? null : r.raw]),
        [
          [2, null, exact],
          [3, 'is longer than 20 bytes', null],
          [4, null, quotedExact],
          [6, 'is longer than 20 bytes', null],
          [8, null, '5,last'],
        ],
        `chunks of ${size}, ${JSON.stringify(eol)} line ends`,
      );
    }
  }
  // The real limit with 1 MiB chunks: a record that ends in the chunk after the one it starts in was
  // accepted up to about 2 MiB (the unfinished part plus a chunk).
  const limit = MAX_RECORD_BYTES;
  const records = ['a,b', `1,${'x'.repeat(limit - 2)}`, `2,${'y'.repeat(limit - 1)}`, `3,${'z'.repeat(Math.floor(limit * 1.5))}`, '4,ok'];
  for (const eol of ['\n', '\r\n']) {
    const { rows } = await parse(records.join(eol), ['a', 'b'], 1 << 20);
    assert.deepEqual(
      rows.map((r) => [r.line, r.problem, r.preview ?? false]),
      [
        [2, null, false],
        [3, `is longer than ${limit} bytes`, true],
        [4, `is longer than ${limit} bytes`, true],
        [5, null, false],
      ],
    );
    assert.equal(rows[0]!.raw.length, limit);
    assert.ok(rows[1]!.raw.length <= 1001, 'only a preview of an over-long record is kept');
  }
});

test('skipping an over-long record reads quotes as the parser does: no later row is swallowed', async () => {
  // A quote inside an unquoted field is literal: it must not make the skip run on to the next quote.
  const input = `a,b\n1,ab"${'x'.repeat(50)}\n2,y\n"3","${'w'.repeat(40)}\n${'w'.repeat(10)}"\n4,"z"x\n5,v`;
  for (const size of [1, 3, 7, 16, 64]) {
    const { rows } = await parse(input, ['a', 'b'], size, 20);
    assert.deepEqual(
      rows.map((r) => [r.line, r.problem]),
      [
        [2, 'is longer than 20 bytes'],
        [3, null],
        [4, 'is longer than 20 bytes'],
        [6, 'has text after a closing quote'],
        [7, null],
      ],
      `chunks of ${size}`,
    );
  }
});

test('a header spanning lines is reported on the line where it starts, escaped and bounded', async () => {
  const forged = '"a\n2026-01-01T00:00:00.000Z run 1: FORGED\u001b[2K\u202e",b\n1,2\n';
  for (const size of [1, 7, 1 << 16]) {
    await assert.rejects(parse(forged, ['a', 'b'], size), (e: unknown) => {
      assert.ok(e instanceof InputError);
      assert.equal(
        e.message,
        'test.csv, line 1: missing required column "a" (the header has: a\\n2026-01-01t00:00:00.000z run 1: forged\\x1b[2k\\u202e, b)',
      );
      return true;
    });
  }
  await assert.rejects(parse('\n"x\ny",a,"x\ny",b\n'), /^InputError: test\.csv, line 2: the header names column "x\\ny" twice$/);
  // A long header shows a short prefix only, however long the line.
  const wide = ['a', ...Array.from({ length: 50_000 }, (_, i) => `col_${i}`)].join(',');
  await assert.rejects(parse(`${wide}\n1,2\n`, ['a', 'b'], 1 << 16), (e: unknown) => {
    assert.ok(e instanceof InputError);
    assert.ok(e.message.length <= 500, `${e.message.length} characters`);
    assert.match(e.message, /^test\.csv, line 1: missing required column "b" \(the header has: a, col_0, col_1, .{0,90}…\)$/);
    return true;
  });
  await assert.rejects(
    parse(`a,${'b'.repeat(200)}\n`, ['a', 'b'], 7, 100),
    /^InputError: test\.csv, line 1: the header line is longer than 100 bytes$/,
  );
});

test('CR-only (old Mac) line ends are refused with a message that says so; a CR before CRLF is fine', async () => {
  const message = 'test.csv: the file uses CR-only (old Mac) line ends; save it with LF or CRLF line ends';
  for (const size of [1, 2, 7, 1 << 16]) {
    await assert.rejects(parse('a,b\r1,secret\r3,4', ['a', 'b'], size), (e: unknown) => e instanceof InputError && e.message === message);
    await assert.rejects(parse('\ra,b\r1,2\r', ['a', 'b'], size), (e: unknown) => e instanceof InputError && e.message === message);
  }
  // Larger than a record may be: still named for what it is, not "longer than".
  const big = `a,b${'\r1,2'.repeat(1_000_000)}`;
  await assert.rejects(parse(big, ['a', 'b'], 1 << 20), (e: unknown) => e instanceof InputError && e.message === message);
  assert.deepEqual((await parse('a,b\r', ['a', 'b'], 1)).rows, [], 'a header-only file ending in one CR is still valid');
  assert.deepEqual(
    (await parse('a,b\r\n1,2\r\n', ['a', 'b'], 1)).rows.map((r) => r.fields),
    [['1', '2']],
  );
});

test('a quoted header with a problem names its own line, not the next one', async () => {
  // Found by test/load/csv-properties.test.ts: the quoted path counted the header's lines before checking it.
  await assert.rejects(parse('A, b ,"a"'), /test\.csv, line 1: the header names column "a" twice/);
  await assert.rejects(parse('\na,"b\nx",c\n1,2,3\n'), /test\.csv, line 2: missing required column "b"/);
});

// Property-based tests of the CSV splitter (src/load/csv-to-copy.ts, without a typer): documents are
// generated from a grammar that covers docs/input.md, fed to the parser in several
// chunkings, and checked against the generator's model and against csv-parse as an independent
// reader.
//
//   npx tsx test/runner.ts test/load/csv-properties.test.ts          a few seconds (FC_RUNS defaults to 1000)
//   FC_RUNS=1000000 nice -n 19 npx tsx test/runner.ts test/load/csv-properties.test.ts    a long run
//   FC_SEED=<seed> [FC_PATH=<path>] ...                       replays a run (both are printed on failure)
//   FC_TIME_LIMIT=<seconds> ...                               stops a property early, still passing, and says after how many runs
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { finished } from 'node:stream/promises';
import fc from 'fast-check';
import { parse as csvParse } from 'csv-parse/sync';
import { CsvToCopy } from '../../src/load/csv-to-copy.js';
import { InputError } from '../../src/support/errors.js';

const RUNS = Number(process.env.FC_RUNS ?? 1000);
const SEED = process.env.FC_SEED === undefined ? (Date.now() ^ (Math.random() * 0x100000000)) | 0 : Number(process.env.FC_SEED);
const PATH = process.env.FC_PATH;

const TIME_LIMIT = process.env.FC_TIME_LIMIT === undefined ? undefined : Number(process.env.FC_TIME_LIMIT) * 1000;

/** fc.assert, but it also reports how many runs passed (fewer than asked when FC_TIME_LIMIT cut it short). */
async function check<T>(t: TestContext, property: fc.IAsyncProperty<T>, numRuns: number): Promise<void> {
  const started = performance.now();
  const details = await fc.check(property, { numRuns, seed: SEED, path: PATH, interruptAfterTimeLimit: TIME_LIMIT });
  const seconds = ((performance.now() - started) / 1000).toFixed(1);
  const note = details.interrupted ? ` (FC_TIME_LIMIT stopped it; ${numRuns} asked)` : '';
  t.diagnostic(
    `fast-check: ${details.numRuns} runs${note} in ${seconds} s, FC_SEED=${SEED}${PATH === undefined ? '' : ` FC_PATH=${PATH}`}`,
  );
  if (details.failed) throw new Error(fc.defaultReportMessage(details) ?? 'property failed');
}

// ---------------------------------------------------------------- the model of a document

/** A blank line as csv-parse's `raw` shows it (with what it keeps of the line end). */
const BLANK = /^[ \t]*\r?\n?$/;

interface Field {
  value: string;
  quoted: boolean;
  /** Spaces and tabs before and after the field, outside any quotes: not part of the value. */
  pre: string;
  post: string;
}

type Defect =
  | { kind: 'nul'; field: number; at: number }
  | { kind: 'utf8'; field: number; at: number; bytes: readonly number[] }
  | { kind: 'afterQuote'; field: number; junk: string };

type Item =
  | { kind: 'blank'; text: string; term: string }
  | { kind: 'record'; fields: Field[]; defect?: Defect; term: string }
  /** Always last: a record whose last field opens a quote that is never closed; it runs to the end of the file. */
  | { kind: 'unterminated'; fields: Field[]; pre: string; content: string };

interface Doc {
  bom: boolean;
  /** Required columns, lower case, in the order the staging table wants them. */
  columns: string[];
  header: Field[];
  /** Blank lines before the header, then the header's terminator, then the body. */
  leading: Extract<Item, { kind: 'blank' }>[];
  headerTerm: string;
  body: Item[];
}

const quote = (s: string) => `"${s.replace(/"/g, '""')}"`;

/** One field's bytes; a defect, if any, is injected into its value at character `at`. */
function fieldBytes(f: Field, defect?: Defect): Buffer {
  if (!defect) return Buffer.from(f.pre + (f.quoted ? quote(f.value) : f.value) + f.post);
  if (defect.kind === 'afterQuote') return Buffer.from(f.pre + quote(f.value) + defect.junk + f.post);
  const chars = [...f.value];
  const at = Math.min(defect.at, chars.length);
  const head = chars.slice(0, at).join('');
  const tail = chars.slice(at).join('');
  const esc = (s: string) => (f.quoted ? s.replace(/"/g, '""') : s);
  const q = f.quoted ? '"' : '';
  const bad = Buffer.from(defect.kind === 'nul' ? [0] : defect.bytes);
  return Buffer.concat([Buffer.from(f.pre + q + esc(head)), bad, Buffer.from(esc(tail) + q + f.post)]);
}

function recordBytes(fields: Field[], defect?: Defect): Buffer {
  const parts: Buffer[] = [];
  fields.forEach((f, i) => {
    if (i > 0) parts.push(Buffer.from(','));
    parts.push(fieldBytes(f, defect?.field === i ? defect : undefined));
  });
  return Buffer.concat(parts);
}

function itemBytes(item: Item): Buffer {
  switch (item.kind) {
    case 'blank':
      return Buffer.from(item.text);
    case 'record':
      return recordBytes(item.fields, item.defect);
    case 'unterminated': {
      const prefix = recordBytes(item.fields);
      const sep = item.fields.length > 0 ? ',' : '';
      return Buffer.concat([prefix, Buffer.from(`${sep}${item.pre}"${item.content.replace(/"/g, '""')}`)]);
    }
  }
}

interface Placed {
  item: Item | { kind: 'header'; fields: Field[]; term: string };
  /** The item's bytes without its line terminator, and the terminator ('' for the last item). */
  text: Buffer;
  term: string;
  /** Physical line (1-based, counting LFs) where the item starts, and how many lines it spans. */
  line: number;
  span: number;
}

const countLf = (b: Buffer) => {
  let n = 0;
  for (const x of b) if (x === 0x0a) n++;
  return n;
};

/** Lays the document out: its bytes and where each item lands. */
function layout(doc: Doc, finalNewline: boolean): { bytes: Buffer; placed: Placed[] } {
  const items: Placed['item'][] = [...doc.leading, { kind: 'header', fields: doc.header, term: doc.headerTerm }, ...doc.body];
  const placed: Placed[] = [];
  const parts: Buffer[] = doc.bom ? [Buffer.from([0xef, 0xbb, 0xbf])] : [];
  let line = 1;
  items.forEach((item, i) => {
    const text = item.kind === 'header' ? recordBytes(item.fields) : itemBytes(item);
    const last = i === items.length - 1;
    const term = item.kind === 'unterminated' || (last && !finalNewline) ? '' : (item as { term: string }).term;
    const span = 1 + countLf(text);
    placed.push({ item, text, term, line, span });
    parts.push(text, Buffer.from(term));
    line += span - 1 + (term === '' ? 0 : 1);
  });
  return { bytes: Buffer.concat(parts), placed };
}

interface Row {
  line: number;
  problem: string | null;
  raw: string;
  /** The loader kept only a preview of the line (raw_is_preview). */
  preview?: true;
  fields: (string | null)[];
}

/** Replacement text for bytes PostgreSQL cannot store, as docs/input.md promises: decoded, NUL shown as U+FFFD. */
const preview = (b: Buffer) => b.toString('utf8').replace(/\0/g, '\uFFFD');

/** What the parser must emit for this document: one row per record after the header, in order. */
function expectedRows(doc: Doc, placed: Placed[]): Row[] {
  const names = doc.header.map((f) => f.value.toLowerCase());
  const picks = doc.columns.map((c) => names.indexOf(c));
  const width = doc.header.length;
  const rows: Row[] = [];
  for (const p of placed) {
    const item = p.item;
    if (item.kind === 'blank' || item.kind === 'header') continue;
    // A record's raw text is its bytes without the line end (one CR before the end is part of CRLF).
    let rawBytes = p.text;
    if (rawBytes[rawBytes.length - 1] === 0x0d) rawBytes = rawBytes.subarray(0, -1);
    const nulls = doc.columns.map(() => null);
    if (item.kind === 'unterminated') {
      rows.push({ line: p.line, problem: 'has a quoted field that is never closed', raw: rawBytes.toString(), fields: nulls });
    } else if (item.defect?.kind === 'nul') {
      rows.push({ line: p.line, problem: 'contains a NUL byte', raw: preview(rawBytes), preview: true, fields: nulls });
    } else if (item.defect?.kind === 'utf8') {
      rows.push({ line: p.line, problem: 'is not valid UTF-8', raw: preview(rawBytes), preview: true, fields: nulls });
    } else if (item.defect?.kind === 'afterQuote') {
      rows.push({ line: p.line, problem: 'has text after a closing quote', raw: rawBytes.toString(), fields: nulls });
    } else if (item.fields.length !== width) {
      const n = item.fields.length;
      const problem = `has ${n} field${n === 1 ? '' : 's'} but the header has ${width}`;
      rows.push({ line: p.line, problem, raw: rawBytes.toString(), fields: nulls });
    } else {
      rows.push({ line: p.line, problem: null, raw: rawBytes.toString(), fields: picks.map((i) => item.fields[i]!.value) });
    }
  }
  return rows;
}

// ---------------------------------------------------------------- running the parser

const unescapeCopy = (s: string) => s.replace(/\\(.)/g, (_, c: string) => ({ t: '\t', n: '\n', r: '\r', '\\': '\\' })[c] ?? `\\${c}`);

function decodeCopy(out: Buffer): Row[] {
  const text = out.toString('utf8');
  if (text === '') return [];
  assert.ok(text.endsWith('\n'), 'COPY output ends with a newline');
  return text
    .slice(0, -1)
    .split('\n')
    .map((l) => {
      const [line, problem, raw, preview, ...fields] = l.split('\t');
      assert.match(line!, /^[1-9][0-9]*$/);
      assert.match(preview!, /^[tf]$/, 'raw_is_preview is a boolean');
      return {
        line: Number(line),
        problem: problem === '\\N' ? null : unescapeCopy(problem!),
        raw: unescapeCopy(raw!),
        ...(preview === 't' ? { preview: true } : {}),
        fields: fields.map((f) => (f === '\\N' ? null : unescapeCopy(f))),
      };
    });
}

/** Feeds `bytes` to a parser in chunks of the given sizes (cycled), returns the COPY bytes it emitted. */
async function runParser(bytes: Buffer, columns: string[], sizes: number[]): Promise<{ out: Buffer; rowsRead: number }> {
  const parser = new CsvToCopy({ file: 'prop.csv', columns });
  const out: Buffer[] = [];
  parser.on('data', (c: Buffer) => out.push(c));
  const done = finished(parser);
  for (let pos = 0, k = 0; pos < bytes.length; k++) {
    const n = sizes[k % sizes.length]!;
    parser.write(bytes.subarray(pos, pos + n));
    pos += n;
  }
  parser.end();
  await done;
  return { out: Buffer.concat(out), rowsRead: parser.stats.rowsRead };
}

/** 1 byte at a time, the generated sizes, one chunk: all must give the same bytes. */
async function runAllChunkings(bytes: Buffer, columns: string[], sizes: number[]): Promise<Buffer> {
  const whole = await runParser(bytes, columns, [Math.max(1, bytes.length)]);
  for (const s of [[1], sizes]) {
    const other = await runParser(bytes, columns, s);
    assert.ok(other.out.equals(whole.out), `chunk sizes ${JSON.stringify(s)} give other COPY output than one chunk`);
    assert.equal(other.rowsRead, whole.rowsRead);
  }
  assert.equal(whole.rowsRead, decodeCopy(whole.out).length, 'stats.rowsRead counts every row emitted');
  return whole.out;
}

// ---------------------------------------------------------------- the independent reader

/**
 * csv-parse, configured as close to the README's rules as it goes. Where it still differs, the
 * README wins and the comparison below adjusts for it:
 * - `trim` also strips Unicode white space (NBSP, VT, FF, U+3000, ...) around unquoted values; the
 *   README says only spaces and tabs are not part of a value, so those characters are kept by our
 *   parser and the comparison trims the parser's value the csv-parse way before comparing.
 * - with `trim`, a line of only spaces and tabs is one empty field for csv-parse, not a skipped
 *   line: records whose raw text is blank are dropped here (`skip_empty_lines` drops only empty ones).
 * - csv-parse discovers one record delimiter per file; the README lets LF and CRLF mix, so both are given.
 * - `info.lines` is the line on which csv-parse finishes a record, and inside quotes it counts a CR
 *   and an LF each as a line break (`"a\r\nb"` spans three lines for it), so it is not the README's
 *   physical line where the record starts: the line numbers are taken from the generator's model.
 */
function independentRead(bytes: Buffer): { record: string[]; raw: string }[] {
  const records = csvParse(bytes, {
    bom: true,
    relax_column_count: true,
    trim: true,
    info: true,
    raw: true,
    record_delimiter: ['\r\n', '\n'],
    relax_quotes: true,
  }) as unknown as { record: string[]; raw: string }[];
  return records.filter((r) => !(r.record.length === 1 && r.record[0] === '' && BLANK.test(r.raw)));
}

const CSV_PARSE_TRIM = /^[\s\ufeff]+|[\s\ufeff]+$/g;
const csvParseTrim = (s: string) => s.replace(CSV_PARSE_TRIM, '');

/**
 * An unquoted value such as NBSP + `"x`: for the README only spaces and tabs are trimmed, so the quote
 * is inside the value and kept; csv-parse trims the NBSP first and then sees a quote opening the field.
 */
const beyondCsvParse = (fields: Field[]) => fields.some((f) => !f.quoted && csvParseTrim(f.value).startsWith('"'));

// ---------------------------------------------------------------- generators

const ws = fc.string({ unit: fc.constantFrom(' ', '\t'), maxLength: 3 });
/** Characters worth having in values: 2-, 3- and 4-byte UTF-8, white space that is not a space or tab, a BOM. */
const special = fc.constantFrom(
  'a',
  'Z',
  'N',
  '7',
  ' ',
  '\t',
  ';',
  '\\',
  "'",
  '|',
  'é',
  'ß',
  '中',
  '€',
  '😀',
  '𝄞',
  '\u00a0',
  '\u000b',
  '\u000c',
  '\u3000',
  '\u2003',
  '\ufeff',
  '\u0001',
  '\u007f',
);
const anyChar = fc.string({ unit: 'grapheme', minLength: 1, maxLength: 1 }).filter((c) => !c.includes('\0'));
const plainChar = fc.oneof({ arbitrary: special, weight: 4 }, { arbitrary: anyChar, weight: 1 }).filter((c) => !/[,"\r\n]/.test(c));
const quotedChar = fc.oneof(
  { arbitrary: plainChar, weight: 6 },
  { arbitrary: fc.constantFrom('"', ',', '\n', '\r\n', '\r', '""', ' '), weight: 2 },
);

/**
 * Unquoted values: anything but `,`, CR and LF, and no space or tab at either end (those are trimmed).
 * A quote that does not open the field is kept as a character (`5" disk`): the README is silent on
 * it, our parser keeps it, and csv-parse does too with `relax_quotes`; rejecting it would lose rows.
 */
const plainValue = fc
  .tuple(
    fc.array(plainChar, { maxLength: 8 }),
    fc.oneof({ arbitrary: fc.constant(-1), weight: 9 }, { arbitrary: fc.nat({ max: 8 }), weight: 1 }),
  )
  .map(([cs, quoteAt]) => {
    const chars = [...cs.join('').replace(/^[ \t]+|[ \t]+$/g, '')];
    if (quoteAt >= 0 && chars.length > 0) chars.splice(1 + (quoteAt % chars.length), 0, '"');
    return chars.join('');
  });
const quotedValue = fc.array(quotedChar, { maxLength: 8 }).map((cs) => cs.join(''));

const field: fc.Arbitrary<Field> = fc.oneof(
  fc.record({ value: plainValue, quoted: fc.constant(false), pre: ws, post: ws }),
  fc.record({ value: quotedValue, quoted: fc.constant(true), pre: ws, post: ws }),
);
const plainField: fc.Arbitrary<Field> = fc.record({ value: plainValue, quoted: fc.constant(false), pre: ws, post: ws });

/** A record of one empty unquoted field is a blank line, not a record: quote it. */
const notBlank = (fields: Field[]): Field[] =>
  fields.length === 1 && !fields[0]!.quoted && fields[0]!.value === '' ? [{ ...fields[0]!, quoted: true }] : fields;

const term = fc.constantFrom('\n', '\r\n');
const blank = fc.record({ kind: fc.constant('blank' as const), text: ws, term });

const invalidUtf8 = fc.constantFrom(
  [0xff],
  [0xfe],
  [0x80],
  [0xbf],
  [0xc3],
  [0xc3, 0x28],
  [0xc0, 0x80],
  [0xe2, 0x82],
  [0xed, 0xa0, 0x80],
  [0xf0, 0x9f, 0x98],
  [0xf4, 0x90, 0x80, 0x80],
  [0xf8, 0x88, 0x80, 0x80, 0x80],
);
const junk = fc.tuple(ws, fc.constantFrom('x', 'é', '1', ';', '\\'), plainValue).map(([a, b, c]) => a + b + c);

const NAMES = ['id', 'user_id', 'name', 'email', 'signup_date', 'x', 'compound_structure'];
const EXTRAS = ['extra', 'notes', 'Ünit', 'zzz', 'a b', '', 'two\r\nlines', 'a, "b"'];

/** Mixes the case of an ASCII name. */
const mixCase = (name: string) =>
  fc
    .array(fc.boolean(), { minLength: name.length, maxLength: name.length })
    .map((up) => [...name].map((c, i) => (up[i] ? c.toUpperCase() : c)).join(''));

const headerArb = fc
  .tuple(fc.subarray(NAMES, { minLength: 1, maxLength: 3 }), fc.subarray(EXTRAS, { maxLength: 3 }))
  .chain(([columns, extras]) =>
    fc
      .shuffledSubarray([...columns, ...extras], { minLength: columns.length + extras.length })
      .chain((order) =>
        fc.tuple(
          fc.constant(columns),
          fc.tuple(
            ...order.map((n) =>
              fc.record({ value: mixCase(n), quoted: /^$|[ ,"\r\n]/.test(n) ? fc.constant(true) : fc.boolean(), pre: ws, post: ws }),
            ),
          ),
        ),
      ),
  );

function recordArb(width: number): fc.Arbitrary<Extract<Item, { kind: 'record' }>> {
  const ragged = fc.integer({ min: 1, max: width + 2 }).filter((n) => n !== width);
  const count = fc.oneof({ arbitrary: fc.constant(width), weight: 8 }, { arbitrary: ragged, weight: 1 });
  return fc
    .tuple(
      count.chain((n) => fc.array(field, { minLength: n, maxLength: n })),
      term,
    )
    .chain(([fs, t]) => {
      const fields = notBlank(fs);
      const good = fc.constant({ kind: 'record' as const, fields, term: t });
      const at = fc.nat({ max: 9 });
      const idx = fc.nat({ max: fields.length - 1 });
      const nul = fc.record({ kind: fc.constant('nul' as const), field: idx, at });
      const utf8 = fc.record({ kind: fc.constant('utf8' as const), field: idx, at, bytes: invalidUtf8 });
      // Text after a closing quote: the record ends at the next line feed, so the fields after that one
      // are kept unquoted here (a quote or a line break there would start the next record elsewhere).
      const afterQuote = fc
        .tuple(idx, junk, fc.array(plainField, { minLength: fields.length, maxLength: fields.length }))
        .map(([i, j, plain]) => ({
          kind: 'record' as const,
          fields: fields.map((f, k) => (k === i ? { ...f, quoted: true } : k > i ? plain[k]! : f)),
          defect: { kind: 'afterQuote' as const, field: i, junk: j },
          term: t,
        }));
      return fc.oneof(
        { arbitrary: good, weight: 12 },
        { arbitrary: nul.map((d) => ({ kind: 'record' as const, fields, defect: d, term: t })), weight: 1 },
        { arbitrary: utf8.map((d) => ({ kind: 'record' as const, fields, defect: d, term: t })), weight: 1 },
        { arbitrary: afterQuote, weight: 1 },
      );
    });
}

const docArb: fc.Arbitrary<{ doc: Doc; finalNewline: boolean; sizes: number[] }> = headerArb.chain(([columns, header]) =>
  fc.record({
    doc: fc.record({
      bom: fc.boolean(),
      columns: fc.constant(columns),
      header: fc.constant(header),
      leading: fc.array(blank, { maxLength: 2 }),
      headerTerm: term,
      body: fc
        .tuple(
          fc.array(fc.oneof({ arbitrary: recordArb(header.length), weight: 5 }, { arbitrary: blank, weight: 1 }), { maxLength: 10 }),
          // One document in six ends in a quote that is never closed.
          fc.oneof(
            { arbitrary: fc.constant(null), weight: 5 },
            {
              arbitrary: fc.record({
                kind: fc.constant('unterminated' as const),
                fields: fc.array(field, { maxLength: 2 }),
                pre: ws,
                content: quotedValue,
              }),
              weight: 1,
            },
          ),
        )
        .map(([items, last]): Item[] => (last ? [...items, last] : items)),
    }),
    finalNewline: fc.boolean(),
    sizes: fc.array(fc.integer({ min: 1, max: 40 }), { minLength: 1, maxLength: 8 }),
  }),
);

// ---------------------------------------------------------------- the properties

test('CSV splitter: same output in every chunking, equal to the model and to csv-parse, every line accounted for', async (t) => {
  await check(
    t,
    fc.asyncProperty(docArb, async ({ doc, finalNewline, sizes }) => {
      const { bytes, placed } = layout(doc, finalNewline);

      // (1) Every chunking gives byte-identical COPY output; it never throws on a valid header.
      const rows = decodeCopy(await runAllChunkings(bytes, doc.columns, sizes));

      // (2)+(4) Each record, valid or not, becomes exactly the row the README's rules call for, at the
      // physical line where it starts: accepted with its values, or a reject with the reason.
      const expected = expectedRows(doc, placed);
      assert.deepEqual(rows, expected);

      // (2) The independent reader. Records with a defect only a byte reader sees (NUL, bad UTF-8,
      // bad quoting) are rejects checked above; csv-parse reads the same document with those records'
      // bytes replaced by their line breaks, so every other record keeps its place and line.
      // Also left out: records csv-parse cannot read the README's way (see `beyondCsvParse`).
      const leftOut = (p: Placed) =>
        p.item.kind === 'unterminated' || (p.item.kind === 'record' && (p.item.defect !== undefined || beyondCsvParse(p.item.fields)));
      const forCsvParse = Buffer.concat(
        placed.flatMap((p) => [leftOut(p) ? Buffer.from('\n'.repeat(p.span - 1)) : p.text, Buffer.from(p.term)]),
      );
      const theirs = independentRead(doc.bom ? Buffer.concat([Buffer.from('\ufeff'), forCsvParse]) : forCsvParse);
      const [theirHeader, ...theirRecords] = theirs;
      assert.ok(theirHeader, 'csv-parse finds the header');
      const names = theirHeader.record.map((n) => n.toLowerCase());
      const picks = doc.columns.map((c) => names.indexOf(c));
      assert.ok(picks.every((i) => i >= 0));
      const models = placed.filter(
        (p): p is Placed & { item: Extract<Item, { kind: 'record' }> } => p.item.kind === 'record' && !leftOut(p),
      );
      const leftOutLines = new Set(placed.filter(leftOut).map((p) => p.line));
      // csv-parse drops a last record without a line end when it is one unquoted field that its trim
      // empties (say U+FEFF or NBSP alone). The README trims only spaces and tabs, so for it that is a
      // record like any other: our parser keeps it (checked against the model above).
      const lastModel = models[models.length - 1];
      let dropped = 0;
      if (
        lastModel &&
        lastModel.term === '' &&
        lastModel.item.fields.length === 1 &&
        !lastModel.item.fields[0]!.quoted &&
        csvParseTrim(lastModel.item.fields[0]!.value) === '' &&
        theirRecords.length === models.length - 1
      ) {
        models.pop();
        dropped = lastModel.line;
      }
      assert.equal(theirRecords.length, models.length, 'csv-parse and the model see the same records');
      const ours = rows.filter(
        (r) =>
          r.line !== dropped &&
          !leftOutLines.has(r.line) &&
          (r.problem === null || /^has \d+ fields? but the header has \d+$/.test(r.problem)),
      );
      assert.equal(ours.length, theirRecords.length, 'the parser emits one row per record csv-parse reads');
      theirRecords.forEach((their, k) => {
        const row = ours[k]!;
        const model = models[k]!;
        assert.equal(row.line, model.line);
        if (their.record.length !== names.length) {
          const n = their.record.length;
          assert.equal(row.problem, `has ${n} field${n === 1 ? '' : 's'} but the header has ${names.length}`);
          return;
        }
        assert.equal(row.problem, null);
        picks.forEach((i, c) => {
          const value = row.fields[c]!;
          assert.equal(model.item.fields[i]!.quoted ? value : csvParseTrim(value), their.record[i]);
        });
      });

      // (3) Nothing vanishes, whatever the model says: every physical line is the header's, blank, or
      // part of exactly one emitted row, whose raw text is those lines (bad bytes aside).
      const text = bytes.subarray(doc.bom ? 3 : 0);
      const lines = text.toString('latin1').split('\n');
      const count = lines.length - (text.length > 0 && text[text.length - 1] === 0x0a ? 1 : 0);
      const owner = new Array<string | undefined>(count + 1);
      const headerPlaced = placed.find((p) => p.item.kind === 'header')!;
      for (let l = headerPlaced.line; l < headerPlaced.line + headerPlaced.span; l++) owner[l] = 'header';
      let previous = headerPlaced.line + headerPlaced.span - 1;
      rows.forEach((row, k) => {
        assert.ok(row.line > previous, `row ${k} starts after the previous one ends`);
        const last = Math.min(row.line + countLf(Buffer.from(row.raw)), count);
        for (let l = row.line; l <= last; l++) {
          assert.equal(owner[l], undefined, `line ${l} belongs to one row only`);
          owner[l] = `row ${k}`;
        }
        previous = last;
        if (row.problem !== 'contains a NUL byte' && row.problem !== 'is not valid UTF-8') {
          const source = Buffer.from(lines.slice(row.line - 1, last).join('\n'), 'latin1').toString('utf8');
          // The raw text leaves out the line end; an unterminated quote keeps the file's final line feed.
          const unterminated = row.problem === 'has a quoted field that is never closed';
          assert.ok(row.raw === source.replace(/\r$/, '') || (unterminated && row.raw === `${source}\n`), `raw of row ${k} is its lines`);
        }
      });
      for (let l = 1; l <= count; l++) {
        if (owner[l] === undefined) assert.match(lines[l - 1]!, /^[ \t]*\r?$/, `line ${l} is neither blank nor part of a row`);
      }
    }),
    RUNS,
  );
});

// A header that cannot be used fails the file with an InputError naming its line, in every chunking.
const badHeaderArb = fc.tuple(
  fc.array(blank, { maxLength: 2 }),
  fc.constantFrom(
    { text: 'a,c', problem: 'missing required column "b"' },
    { text: '"A\r\nB", a', problem: 'missing required column "b"' },
    { text: 'A, b ,"a"', problem: 'the header names column "a" twice' },
    { text: 'a,b\0', problem: 'the header line contains a NUL byte' },
    { text: 'a,\xff,b', problem: 'the header line is not valid UTF-8' },
    { text: 'a,b,"x"y', problem: 'the header line has text after a closing quote' },
    { text: 'a,b,"x\n', problem: 'the header line has a quoted field that is never closed' },
    { text: '', problem: 'the file is empty' },
  ),
  fc.constantFrom('', '\n', '\r\n', '\n1,2\n'),
  fc.boolean(),
  fc.array(fc.integer({ min: 1, max: 9 }), { minLength: 1, maxLength: 4 }),
);

test('CSV splitter: a header that cannot be used throws InputError with its line, never anything else', async (t) => {
  await check(
    t,
    fc.asyncProperty(badHeaderArb, async ([leading, { text, problem }, rest, bom, sizes]) => {
      const before = leading.map((b) => b.text + b.term).join('');
      const line = 1 + countLf(Buffer.from(before));
      const bytes = Buffer.concat([
        Buffer.from(bom ? '\ufeff' : ''),
        Buffer.from(before),
        Buffer.from(text, 'latin1'),
        Buffer.from(text === '' ? '' : rest),
      ]);
      for (const s of [[1], sizes, [bytes.length + 1]]) {
        await assert.rejects(runParser(bytes, ['a', 'b'], s), (e: unknown) => {
          assert.ok(e instanceof InputError, `InputError, not ${String(e)}`);
          assert.ok(e.message.includes(problem), e.message);
          if (text !== '') assert.equal(e.line, line);
          return true;
        });
      }
    }),
    // A small space (8 kinds of header problem): a twentieth of the runs, at most 20,000.
    Math.max(1, Math.min(20_000, Math.round(RUNS / 20))),
  );
});

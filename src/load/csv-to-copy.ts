// One file on purpose, though long: this is the byte loop every input byte goes through (10M rows
// in a few seconds). The state machine (quotes, line ends, the record limit, UTF-8 and NUL checks,
// the reject previews) lives in one class so the hot path is one method with local state, no calls
// across modules per byte.
import { Transform, type TransformCallback } from 'node:stream';
import { isUtf8 } from 'node:buffer';
import { InputError } from '../support/errors.js';
import { printable } from '../support/log.js';
import { encodingHint, headerHint } from './header-hints.js';
import { FieldSlices, type RowTyper } from './typed-rows.js';
import { CopyText, CR, LF, SPACE, TAB } from './copy-text.js';
import { REJECT_RAW_BYTES } from './rules.js';

const COMMA = 0x2c;
const QUOTE = 0x22;
const NUL = 0x00;

/**
 * Longest record (in bytes, without its line end) the parser accepts; longer ones are rejected
 * without being buffered. A quoted record spanning several lines counts all of its bytes.
 */
export const MAX_RECORD_BYTES = 1024 * 1024;
/** How much of a wrong header a message shows (characters, escaped): enough to recognise, never the file. */
const HEADER_PREVIEW_CHARS = 100;

const isBlank = (b: number | undefined) => b === SPACE || b === TAB || b === CR;

export interface CsvToCopyOptions {
  /** File name used in messages, e.g. `users.csv`. */
  file: string;
  /** Required columns, in the order the staging table expects them. */
  columns: readonly string[];
  maxRecordBytes?: number;
  /** The typing layer (typed-rows.ts): rows it takes go to its typed stream instead of the text output. */
  typer?: RowTyper;
}

/** Counters a caller can read while the stream runs (progress) and after it ends. */
export interface CsvStats {
  bytesRead: number;
  rowsRead: number;
}

/**
 * Streams a CSV file into PostgreSQL `COPY ... FROM STDIN` text format, one staging row per record:
 * `line, parse_error, raw, raw_is_preview, <required columns...>`.
 *
 * It only splits and unquotes; deciding whether a value is valid is the SQL's job. What only a byte
 * reader can see (wrong field count, bad UTF-8, NUL bytes, unterminated quotes, over-long records) goes
 * into `parse_error` so the row still reaches the rejects with its line number; where `raw` can only
 * be a preview of the record, `raw_is_preview` says so (its reject then has no byte count). Memory
 * stays bounded by one input chunk plus one record of at most `maxRecordBytes`.
 */
export class CsvToCopy extends Transform {
  readonly stats: CsvStats = { bytesRead: 0, rowsRead: 0 };

  private readonly file: string;
  private readonly columns: readonly string[];
  private readonly maxRecordBytes: number;
  /** Header position of each required column, once the header is read. */
  private picks: number[] | null = null;
  private headerWidth = 0;
  /** Physical line number (1-based) where the next record starts. */
  private line = 1;
  private startOfFile = true;
  /** Start of a record that did not end in the previous chunk. */
  private pending: Buffer | null = null;
  /** Set while skipping the rest of an over-long record. */
  private skipping: { state: number } | null = null;
  private out = new CopyText(0);
  private fieldStarts: number[] = [];
  private fieldEnds: number[] = [];
  private readonly typer: RowTyper | undefined;
  private readonly slices = new FieldSlices();
  /** The file's first bytes, before a UTF-8 BOM is stripped: another encoding's mark, for the message. */
  private firstBytes = Buffer.alloc(0);

  constructor(options: CsvToCopyOptions) {
    super();
    this.typer = options.typer;
    this.file = options.file;
    this.columns = options.columns;
    this.maxRecordBytes = options.maxRecordBytes ?? MAX_RECORD_BYTES;
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback): void {
    try {
      this.stats.bytesRead += chunk.length;
      let buf = chunk;
      if (this.skipping) {
        const rest = this.skip(buf);
        if (rest < 0) return done();
        buf = buf.subarray(rest);
      }
      if (this.pending) {
        buf = Buffer.concat([this.pending, buf]);
        this.pending = null;
      }
      if (this.startOfFile) {
        if (buf.length < 3) {
          this.pending = Buffer.from(buf);
          return done();
        }
        this.firstBytes = Buffer.from(buf.subarray(0, 4));
        buf = stripBom(buf);
        this.startOfFile = false;
      }
      this.out = new CopyText(buf.length * 2 + 1024);
      const used = this.parse(buf, false);
      const rest = buf.subarray(used);
      // An unfinished record may hold one more byte: the CR of a CRLF whose LF is in the next chunk.
      if (rest.length > this.maxRecordBytes + (rest[rest.length - 1] === CR ? 1 : 0)) this.rejectOverlong(rest);
      else if (rest.length > 0) this.pending = Buffer.from(rest);
      this.pushCopyText();
      done();
    } catch (error) {
      done(error as Error);
    }
  }

  override _flush(done: TransformCallback): void {
    try {
      this.out = new CopyText(1024 + (this.pending?.length ?? 0) * 2);
      if (this.pending) {
        if (this.startOfFile) this.firstBytes = Buffer.from(this.pending.subarray(0, 4));
        const buf = this.startOfFile ? stripBom(this.pending) : this.pending;
        this.pending = null;
        this.parse(buf, true);
      }
      if (!this.picks) throw new InputError(this.file, 'the file is empty: it has no header line');
      this.pushCopyText();
      done();
    } catch (error) {
      done(error as Error);
    }
  }

  private pushCopyText(): void {
    if (this.out.length > 0) this.push(this.out.written());
  }

  /** Parses every complete record in `buf`; returns where the first incomplete one starts. */
  private parse(buf: Buffer, atEnd: boolean): number {
    if (!this.picks) this.refuseCrOnly(buf);
    let pos = 0;
    // Valid UTF-8 without NULs up to the last line end is the common case; only otherwise check per record.
    const lastLf = atEnd ? buf.length : buf.lastIndexOf(LF) + 1;
    const clean = isUtf8(buf.subarray(0, lastLf)) && buf.subarray(0, lastLf).indexOf(NUL) === -1;
    let nextQuote = buf.indexOf(QUOTE);
    while (pos < buf.length) {
      if (nextQuote !== -1 && nextQuote < pos) nextQuote = buf.indexOf(QUOTE, pos);
      const lf = buf.indexOf(LF, pos);
      if (nextQuote === -1 || (lf !== -1 && nextQuote > lf)) {
        if (lf === -1 && !atEnd) break;
        const end = lf === -1 ? buf.length : lf;
        const rawEnd = end > pos && buf[end - 1] === CR ? end - 1 : end;
        if (rawEnd - pos > this.maxRecordBytes) this.rejectLong(this.line, buf.subarray(pos, rawEnd));
        else this.plainRecord(buf, pos, end, clean || isCleanText(buf, pos, end));
        this.line += 1;
        pos = end + 1;
      } else {
        const next = this.quotedRecord(buf, pos, atEnd);
        if (next < 0) break;
        pos = next;
      }
    }
    return Math.min(pos, buf.length);
  }

  /** A record without quotes between `start` and `end` (its line feed). */
  private plainRecord(buf: Buffer, start: number, end: number, clean: boolean): void {
    const starts = this.fieldStarts;
    const ends = this.fieldEnds;
    let count = 0;
    let from = start;
    for (;;) {
      let to = from;
      while (to < end && buf[to] !== COMMA) to++;
      let s = from;
      let e = to;
      while (s < e && isBlank(buf[s])) s++;
      while (e > s && isBlank(buf[e - 1])) e--;
      starts[count] = s;
      ends[count] = e;
      count++;
      if (to === end) break;
      from = to + 1;
    }
    if (count === 1 && starts[0] === ends[0]) return; // blank line
    const rawEnd = buf[end - 1] === CR ? end - 1 : end;
    if (!clean) return this.undecodable(buf, start, rawEnd);
    if (!this.picks) return this.readHeader(count, (i) => buf.toString('utf8', starts[i], ends[i]));
    this.row(buf, start, rawEnd, count, (i) => this.out.escaped(buf, starts[i]!, ends[i]!));
  }

  /**
   * A record with at least one quote: walk it field by field. Returns the position after the record,
   * or -1 when the record does not end in `buf` and more input may follow.
   */
  private quotedRecord(buf: Buffer, start: number, atEnd: boolean): number {
    const values: Buffer[] = [];
    let problem: string | null = null;
    let i = start;
    let end = -1; // position of the record's line feed (or buf.length at the end of the file)
    while (end < 0) {
      while (i < buf.length && (buf[i] === SPACE || buf[i] === TAB)) i++;
      if (buf[i] === QUOTE) {
        const parts: Buffer[] = [];
        let from = i + 1;
        for (;;) {
          const q = buf.indexOf(QUOTE, from);
          if (q === -1 || (q === buf.length - 1 && !atEnd)) {
            if (!atEnd) return -1;
            problem = 'has a quoted field that is never closed';
            parts.push(buf.subarray(from));
            i = buf.length;
            break;
          }
          if (buf[q + 1] === QUOTE) {
            parts.push(buf.subarray(from, q + 1));
            from = q + 2;
            continue;
          }
          parts.push(buf.subarray(from, q));
          i = q + 1;
          break;
        }
        values.push(parts.length === 1 ? parts[0]! : Buffer.concat(parts));
        while (i < buf.length && isBlank(buf[i])) i++;
        if (i >= buf.length) {
          if (!atEnd) return -1;
          end = buf.length;
        } else if (buf[i] === COMMA) {
          i++;
        } else if (buf[i] === LF) {
          end = i;
        } else {
          problem ??= 'has text after a closing quote';
          const lf = buf.indexOf(LF, i);
          if (lf === -1 && !atEnd) return -1;
          end = lf === -1 ? buf.length : lf;
        }
      } else {
        let j = i;
        while (j < buf.length && buf[j] !== COMMA && buf[j] !== LF) j++;
        if (j >= buf.length && !atEnd) return -1;
        let e = j;
        while (e > i && isBlank(buf[e - 1])) e--;
        values.push(buf.subarray(i, e));
        if (buf[j] === COMMA) i = j + 1;
        else end = j;
      }
    }
    const firstLine = this.line;
    this.line += 1 + countByte(buf, LF, start, end);
    const rawEnd = buf[end - 1] === CR ? end - 1 : end;
    if (rawEnd - start > this.maxRecordBytes) {
      this.rejectLong(firstLine, buf.subarray(start, rawEnd));
    } else if (!isCleanText(buf, start, end)) {
      this.undecodable(buf, start, rawEnd, firstLine);
    } else if (problem) {
      this.rejected(firstLine, problem, buf, start, rawEnd);
    } else if (!this.picks) {
      this.readHeader(values.length, (i) => values[i]!.toString('utf8'), firstLine);
    } else {
      this.row(buf, start, rawEnd, values.length, (i) => this.out.escaped(values[i]!, 0, values[i]!.length), firstLine, values);
    }
    return end + 1;
  }

  /** Reads the header that starts on `line`. Messages show at most a short, escaped prefix of it. */
  private readHeader(count: number, name: (i: number) => string, line = this.line): void {
    const names = Array.from({ length: count }, (_, i) => name(i).trim().toLowerCase());
    const seen = new Set<string>();
    for (const n of names) {
      if (n !== '' && seen.has(n)) throw new InputError(this.file, `the header names column "${printable(n, 60)}" twice`, line);
      seen.add(n);
    }
    const missing = this.columns.filter((c) => !seen.has(c));
    if (missing.length > 0) {
      const list = missing.map((c) => `"${c}"`).join(', ');
      const hint = headerHint(names, missing, this.columns);
      const has = `(the header has: ${printable(names.join(', '), HEADER_PREVIEW_CHARS)})`;
      const problem = `missing required column${missing.length > 1 ? 's' : ''} ${list} ${has}`;
      // A misspelling is named after the columns; a wrong kind of file comes first, as the fix.
      const message = hint === null ? problem : hint.startsWith('did you mean') ? `${problem}: ${hint}` : `${hint} ${has}`;
      throw new InputError(this.file, message, line);
    }
    this.picks = this.columns.map((c) => names.indexOf(c));
    this.headerWidth = count;
  }

  private row(
    buf: Buffer,
    start: number,
    rawEnd: number,
    count: number,
    writeField: (i: number) => void,
    line = this.line,
    values?: Buffer[],
  ): void {
    if (count !== this.headerWidth) {
      const problem = `has ${count} field${count === 1 ? '' : 's'} but the header has ${this.headerWidth}`;
      return this.rejected(line, problem, buf, start, rawEnd);
    }
    if (this.typer) {
      const f = this.slices;
      f.values = values ?? null;
      f.plain = buf;
      f.starts = this.fieldStarts;
      f.ends = this.fieldEnds;
      if (this.typer.take(line, this.picks!, f)) {
        this.stats.rowsRead++;
        return;
      }
    }
    this.stats.rowsRead++;
    const out = this.out;
    out.uint(line);
    out.nullField();
    out.byte(TAB);
    out.escaped(buf, start, rawEnd);
    out.flag(false);
    for (const pick of this.picks!) {
      out.byte(TAB);
      writeField(pick);
    }
    out.byte(LF);
  }

  private rejected(line: number, problem: string, buf: Buffer, start: number, rawEnd: number, preview = false): void {
    if (!this.picks) throw new InputError(this.file, `the header line ${problem}`, line);
    this.stats.rowsRead++;
    const out = this.out;
    out.uint(line);
    out.byte(TAB);
    out.text(problem);
    out.byte(TAB);
    out.escaped(buf, start, rawEnd);
    out.flag(preview);
    for (let i = 0; i < this.columns.length; i++) out.nullField();
    out.byte(LF);
  }

  /** Bytes PostgreSQL cannot store as text: keep a readable preview and say what was wrong. */
  private undecodable(buf: Buffer, start: number, rawEnd: number, line = this.line): void {
    const bytes = buf.subarray(start, rawEnd);
    const problem = bytes.indexOf(NUL) !== -1 ? 'contains a NUL byte' : 'is not valid UTF-8';
    if (!this.picks) {
      const hint = encodingHint(this.firstBytes, bytes);
      throw new InputError(this.file, `the header line ${problem}${hint === null ? '' : `: ${hint}`}`, line);
    }
    const preview = Buffer.from(previewText(bytes));
    this.rejected(line, problem, preview, 0, preview.length, true);
  }

  /** A record (`bytes`, starting on `line`) longer than allowed: reject it, keeping a preview. */
  private rejectLong(line: number, bytes: Buffer): void {
    const problem = `is longer than ${this.maxRecordBytes} bytes`;
    if (!this.picks) throw new InputError(this.file, `the header line ${problem}`, line);
    const preview = Buffer.from(previewText(bytes.subarray(0, REJECT_RAW_BYTES)) + '…');
    this.rejected(line, problem, preview, 0, preview.length, true);
  }

  /** The unfinished record starting in `rest` is longer than allowed: reject it and skip to its end. */
  private rejectOverlong(rest: Buffer): void {
    this.rejectLong(this.line, rest);
    this.skipping = { state: FIELD_START };
    // `rest` does not hold the record's end (the parser would have found it): this only counts its lines.
    const next = this.skip(rest);
    if (next >= 0 && next < rest.length) this.pending = Buffer.from(rest.subarray(next));
  }

  /**
   * Skips the rest of an over-long record, reading quotes exactly as the parser does (special only
   * at the start of a field), so the record ends where the parser would end it and line numbers
   * stay right. Returns where the next record starts in `buf`, or -1.
   */
  private skip(buf: Buffer): number {
    let state = this.skipping!.state;
    for (let i = 0; i < buf.length; i++) {
      const b = buf[i]!;
      if (b === LF) {
        this.line++;
        if (state !== QUOTED) {
          this.skipping = null;
          return i + 1;
        }
      } else {
        state = skipState(state, b);
      }
    }
    this.skipping!.state = state;
    return -1;
  }

  /**
   * Line feeds are the only line ends (CR LF counts as one). A lone CR before the first line feed,
   * with none in sight, means CR-only (old Mac) line ends: the file would read as one long line,
   * so it is refused with a message that says so.
   */
  private refuseCrOnly(buf: Buffer): void {
    if (buf.indexOf(LF) !== -1) return;
    const cr = buf.indexOf(CR);
    if (cr !== -1 && cr < buf.length - 1) {
      throw new InputError(this.file, 'the file uses CR-only (old Mac) line ends; save it with LF or CRLF line ends');
    }
  }
}

// Where the skipping of an over-long record is, byte by byte (see CsvToCopy.skip).
const FIELD_START = 0; // blanks before a field
const UNQUOTED = 1; // in a field that did not start with a quote: quotes are literal
const QUOTED = 2; // inside quotes: line feeds belong to the field
const QUOTE_SEEN = 3; // a quote inside quotes: closing, or the first of a doubled quote
const AFTER_QUOTE = 4; // blanks after a closing quote
const TRAILING = 5; // text after a closing quote: the record ends at the next line feed

function skipState(state: number, b: number): number {
  switch (state) {
    case FIELD_START:
      return b === SPACE || b === TAB ? FIELD_START : b === QUOTE ? QUOTED : b === COMMA ? FIELD_START : UNQUOTED;
    case UNQUOTED:
      return b === COMMA ? FIELD_START : UNQUOTED;
    case QUOTED:
      return b === QUOTE ? QUOTE_SEEN : QUOTED;
    case QUOTE_SEEN:
      return b === QUOTE ? QUOTED : b === COMMA ? FIELD_START : isBlank(b) ? AFTER_QUOTE : TRAILING;
    case AFTER_QUOTE:
      return b === COMMA ? FIELD_START : isBlank(b) ? AFTER_QUOTE : TRAILING;
    default:
      return TRAILING;
  }
}

function stripBom(buf: Buffer): Buffer {
  return buf[0] === 0xef && buf[1] === 0xbb && buf[2] === 0xbf ? buf.subarray(3) : buf;
}

function isCleanText(buf: Buffer, start: number, end: number): boolean {
  const slice = buf.subarray(start, end);
  return isUtf8(slice) && slice.indexOf(NUL) === -1;
}

function countByte(buf: Buffer, byte: number, start: number, end: number): number {
  let n = 0;
  for (let i = buf.indexOf(byte, start); i !== -1 && i < end; i = buf.indexOf(byte, i + 1)) n++;
  return n;
}

/** Decodes what can be decoded; NULs become U+FFFD so the text is storable. */
function previewText(bytes: Buffer): string {
  return bytes.subarray(0, REJECT_RAW_BYTES).toString('utf8').replace(/\0/g, '\uFFFD');
}

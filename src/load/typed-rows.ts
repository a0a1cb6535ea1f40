// One file on purpose, though long: the typers run once per field of every row on the load's hot
// path, and each is written out per column (ids, dates, run times, compound lists) so that no row
// pays for a generic dispatch; the grammars they apply are named in rules.ts.
/**
 * The typing layer, on top of the CSV splitter (csv-to-copy.ts): a fast path for rows it can prove
 * valid. Such a row is written, already typed, to a second COPY stream that goes straight into the
 * table that becomes the run's `core.*` partition; every other row stays on the splitter's text
 * path into `staging.*`, where the SQL of `sql/transform/` judges it and writes its reject reason.
 *
 * So this layer never rejects anything and never words a reason: it only decides "certainly valid"
 * under exactly the rules the SQL applies (sql/000003-parsers.sql, sql/transform/0[2-6]0-*.sql),
 * and hands anything else (odd but maybe valid, or invalid) to the SQL. Its checks:
 *
 * - ids: digits only, not all zeros, at most MAX_ID_DIGITS after leading zeros, at most MAX_ID;
 * - the id is new: no earlier line of the file had it (every parseable id is recorded, accepted or
 *   not; when the record overflows its caps, only an id larger than all earlier ones counts as
 *   new). So a typed row repeats no earlier row, and a later repeat of it is on the text path,
 *   where the SQL rejects it as a repeat (the first accepted occurrence wins);
 * - users: `signup_date` a real YYYY-MM-DD date, `name`/`email` at most MAX_CHARS characters;
 * - compounds: `compound_name` and `compound_structure` at most MAX_CHARS characters;
 * - experiments: `experiment_run_time` matches the number grammar of etl.to_run_time and is not
 *   negative; `experiment_compound_ids` is a non-empty `;` list of such ids (spaces around items
 *   allowed), at most MAX_TYPED_COMPOUNDS of them; the user and every compound are users and compounds this layer typed earlier in the
 *   run (users.csv and compounds.csv are read first). A compound listed twice in the row is kept
 *   once (the features count it once per experiment).
 *
 * The limits and grammars are named in rules.ts, shared with the tests that hold them equal to the SQL.
 */

import { CopyText, LF, SPACE, TAB, ZERO } from './copy-text.js';
import { MAX_CHARS, MAX_ID, MAX_ID_DIGITS, RUN_TIME_DIGITS, RUN_TIME_EXPONENT_DIGITS } from './rules.js';

const SEMI = 0x3b;
const NINE = 0x39;
const DOT = 0x2e;
const PLUS = 0x2b;
const MINUS = 0x2d;
/** Longer compound lists are left to the SQL: the repeat check below is quadratic. */
const MAX_TYPED_COMPOUNDS = 1000;

/** Where one field of the current record is; the splitter fills it, reused from record to record. */
export class FieldSlices {
  /** The chunk a plain (unquoted) record lies in, with its fields' bounds. */
  plain: Buffer = Buffer.alloc(0);
  starts: number[] = [];
  ends: number[] = [];
  /** A quoted record's unquoted field values, when it had quotes; null otherwise. */
  values: Buffer[] | null = null;
  buf: Buffer = Buffer.alloc(0);
  start = 0;
  end = 0;

  /** Points buf/start/end at field `i` (a header position). */
  select(i: number): void {
    if (this.values) {
      const v = this.values[i]!;
      this.buf = v;
      this.start = 0;
      this.end = v.length;
    } else {
      this.buf = this.plain;
      this.start = this.starts[i]!;
      this.end = this.ends[i]!;
    }
  }
}

/** What the splitter asks the typing layer for each record with the right field count. */
export interface RowTyper {
  /** Writes the row to the typed stream and returns true, or returns false (text path). */
  take(line: number, picks: readonly number[], fields: FieldSlices): boolean;
  /** The typed COPY text produced since the last call. */
  takeOutput(): Buffer;
  /** Rows written to the typed stream. */
  readonly typedRows: number;
}

/**
 * Ids (up to 2^53 - 1) in a bitmap that grows up to 2^27 bits (16 MB), and larger ids in a Set of
 * at most 100,000 entries. An id that did not fit is simply not a member (and `lossy` is set):
 * rows using it then go the text path and the SQL checks them, so the caps bound memory without
 * changing any result.
 */
export class IdSet {
  private bits = new Uint8Array(1 << 14);
  private big = new Set<number>();
  /** Some id could not be recorded: "not a member" no longer proves "never added". */
  lossy = false;
  private static readonly MAX_BITS = 1 << 27;
  private static readonly MAX_BIG = 100_000;

  add(id: number): void {
    if (id < IdSet.MAX_BITS) {
      const byte = id >>> 3;
      if (byte >= this.bits.length) {
        let size = this.bits.length;
        while (size <= byte) size *= 2;
        const bigger = new Uint8Array(Math.min(size, IdSet.MAX_BITS >>> 3));
        bigger.set(this.bits);
        this.bits = bigger;
      }
      this.bits[byte]! |= 1 << (id & 7);
    } else if (this.big.size < IdSet.MAX_BIG) {
      this.big.add(id);
    } else {
      this.lossy = true;
    }
  }

  has(id: number): boolean {
    if (id < IdSet.MAX_BITS) {
      const byte = id >>> 3;
      return byte < this.bits.length && (this.bits[byte]! & (1 << (id & 7))) !== 0;
    }
    return this.big.has(id);
  }
}

/** Accepted users and compounds this run's typing layer has seen, for the experiments' checks. */
export interface KnownIds {
  users: IdSet;
  compounds: IdSet;
}

/**
 * An id as etl.to_id reads it: the value, or -1. Leading zeros are skipped; `digitsStart` is set
 * to where the significant digits start, so the id can be copied without them.
 */
let digitsStart = 0;
function parseId(buf: Buffer, start: number, end: number): number {
  let i = start;
  while (i < end && buf[i] === ZERO) i++;
  const n = end - i;
  if (n < 1 || n > MAX_ID_DIGITS) return -1;
  digitsStart = i;
  let v = 0;
  for (; i < end; i++) {
    const d = buf[i]! - ZERO;
    if (d < 0 || d > 9) return -1;
    v = v * 10 + d;
  }
  return v > MAX_ID ? -1 : v;
}

/** Characters of valid UTF-8 text (the splitter only hands over valid UTF-8). */
function charLength(buf: Buffer, start: number, end: number, limit: number): number {
  if (end - start <= limit) return end - start;
  let n = 0;
  for (let i = start; i < end; i++) if ((buf[i]! & 0xc0) !== 0x80) n++;
  return n;
}

const DAYS = [0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

/** YYYY-MM-DD that exists, year 0001-9999, as etl.to_date accepts it. */
function isDate(buf: Buffer, s: number, e: number): boolean {
  if (e - s !== 10 || buf[s + 4] !== MINUS || buf[s + 7] !== MINUS) return false;
  let year = 0;
  for (let i = s; i < s + 4; i++) {
    const d = buf[i]! - ZERO;
    if (d < 0 || d > 9) return false;
    year = year * 10 + d;
  }
  const m1 = buf[s + 5]! - ZERO,
    m2 = buf[s + 6]! - ZERO,
    d1 = buf[s + 8]! - ZERO,
    d2 = buf[s + 9]! - ZERO;
  if (m1 < 0 || m1 > 9 || m2 < 0 || m2 > 9 || d1 < 0 || d1 > 9 || d2 < 0 || d2 > 9) return false;
  const month = m1 * 10 + m2;
  const day = d1 * 10 + d2;
  if (year === 0 || month < 1 || month > 12 || day < 1) return false;
  const leap = year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0);
  return day <= (month === 2 && leap ? 29 : DAYS[month]!);
}

const isDigit = (b: number | undefined) => b !== undefined && b >= ZERO && b <= NINE;

/**
 * `experiment_run_time` per etl.to_run_time's grammar (RUN_TIME_GRAMMAR) and not negative:
 * 1 when valid as written, 0 when it is a negative zero (stored as 0), -1 otherwise.
 */
function runTimeKind(buf: Buffer, s: number, e: number): number {
  let i = s;
  let negative = false;
  if (buf[i] === PLUS || buf[i] === MINUS) {
    negative = buf[i] === MINUS;
    i++;
  }
  let intDigits = 0;
  let fracDigits = 0;
  let nonZero = false;
  while (i < e && isDigit(buf[i])) {
    if (buf[i] !== ZERO) nonZero = true;
    intDigits++;
    i++;
  }
  if (i < e && buf[i] === DOT) {
    i++;
    while (i < e && isDigit(buf[i])) {
      if (buf[i] !== ZERO) nonZero = true;
      fracDigits++;
      i++;
    }
    if (intDigits === 0 && fracDigits === 0) return -1;
  } else if (intDigits === 0) {
    return -1;
  }
  if (intDigits > RUN_TIME_DIGITS || fracDigits > RUN_TIME_DIGITS) return -1;
  if (i < e && (buf[i] === 0x65 || buf[i] === 0x45)) {
    i++;
    if (buf[i] === PLUS || buf[i] === MINUS) i++;
    let expDigits = 0;
    while (i < e && isDigit(buf[i])) {
      expDigits++;
      i++;
    }
    if (expDigits < 1 || expDigits > RUN_TIME_EXPONENT_DIGITS) return -1;
  }
  if (i !== e) return -1;
  if (negative) return nonZero ? -1 : 0;
  return 1;
}

abstract class BaseTyper implements RowTyper {
  typedRows = 0;
  protected out = new CopyText();
  /** Largest id on any earlier line, and every id seen (see freshId). */
  protected maxId = 0;
  private readonly seen = new IdSet();

  abstract take(line: number, picks: readonly number[], fields: FieldSlices): boolean;

  takeOutput(): Buffer {
    return this.out.take();
  }

  /**
   * Parses the row's id and records it; returns the id when no earlier line had it, else -1. In
   * order files (the common case) that is one comparison; otherwise the record of seen ids answers,
   * as long as it lost none.
   */
  protected freshId(fields: FieldSlices): number {
    const id = parseId(fields.buf, fields.start, fields.end);
    if (id < 0) return -1;
    const fresh = id > this.maxId || (!this.seen.lossy && !this.seen.has(id));
    if (id > this.maxId) this.maxId = id;
    this.seen.add(id);
    return fresh ? id : -1;
  }

  /** Where the significant digits of the row's id are (set by takeId), for writeId. */
  private idBuf: Buffer = Buffer.alloc(0);
  private idStart = 0;
  private idEnd = 0;

  /** The row's first column, field `pick`: its id when fresh (freshId), kept for writeId; else -1. */
  protected takeId(f: FieldSlices, pick: number): number {
    f.select(pick);
    const id = this.freshId(f);
    if (id >= 0) {
      this.idBuf = f.buf;
      this.idStart = digitsStart;
      this.idEnd = f.end;
    }
    return id;
  }

  /** Writes the id takeId kept (its significant digits, as etl.to_id reads it) and a tab. */
  protected writeId(): void {
    this.out.raw(this.idBuf, this.idStart, this.idEnd);
    this.out.byte(TAB);
  }
}

/**
 * users.csv and compounds.csv, one typer parameterized by their columns: an id, two text fields of
 * at most `limits` characters and, for users, a date -> (id, text, text[, date], line). `picks`:
 * the id, the two texts, then the date.
 */
class IdTextTyper extends BaseTyper {
  constructor(
    private readonly known: IdSet,
    private readonly limits: readonly [number, number],
    private readonly dated: boolean,
  ) {
    super();
  }

  take(line: number, picks: readonly number[], f: FieldSlices): boolean {
    const id = this.takeId(f, picks[0]!);
    if (id < 0) return false;
    let dBuf = f.buf,
      dStart = 0;
    if (this.dated) {
      f.select(picks[3]!);
      if (!isDate(f.buf, f.start, f.end)) return false;
      dBuf = f.buf;
      dStart = f.start;
    }
    f.select(picks[1]!);
    if (charLength(f.buf, f.start, f.end, this.limits[0]) > this.limits[0]) return false;
    const nBuf = f.buf,
      nStart = f.start,
      nEnd = f.end;
    f.select(picks[2]!);
    if (charLength(f.buf, f.start, f.end, this.limits[1]) > this.limits[1]) return false;
    const out = this.out;
    this.writeId();
    out.escaped(nBuf, nStart, nEnd);
    out.byte(TAB);
    out.escaped(f.buf, f.start, f.end);
    out.byte(TAB);
    if (this.dated) {
      out.raw(dBuf, dStart, dStart + 10);
      out.byte(TAB);
    }
    out.uint(line);
    out.byte(LF);
    this.known.add(id);
    this.typedRows++;
    return true;
  }
}

/** users.csv: user_id, name, email, signup_date -> (user_id, name, email, signup_date, line). */
export class UserTyper extends IdTextTyper {
  constructor(known: IdSet) {
    super(known, [MAX_CHARS.name, MAX_CHARS.email], true);
  }
}

/** compounds.csv: compound_id, compound_name, compound_structure -> (..., line). */
export class CompoundTyper extends IdTextTyper {
  constructor(known: IdSet) {
    super(known, [MAX_CHARS.compound_name, MAX_CHARS.compound_structure], false);
  }
}

/**
 * user_experiments.csv: experiment_id, user_id, experiment_compound_ids, experiment_run_time ->
 * (experiment_id, user_id, compound_ids, run_time, line).
 */
export class ExperimentTyper extends BaseTyper {
  /** The row's compound ids and where their significant digits are, reused from row to row. */
  private ids: number[] = [];
  private idStarts: number[] = [];
  private idEnds: number[] = [];

  constructor(private readonly known: KnownIds) {
    super();
  }

  take(line: number, picks: readonly number[], f: FieldSlices): boolean {
    if (this.takeId(f, picks[0]!) < 0) return false;
    f.select(picks[1]!);
    const uid = parseId(f.buf, f.start, f.end);
    if (uid < 0 || !this.known.users.has(uid)) return false;
    const uBuf = f.buf,
      uStart = digitsStart,
      uEnd = f.end;
    f.select(picks[3]!);
    const kind = runTimeKind(f.buf, f.start, f.end);
    if (kind < 0) return false;
    const rBuf = f.buf,
      rStart = f.start,
      rEnd = f.end;
    f.select(picks[2]!);
    const count = this.compounds(f.buf, f.start, f.end);
    if (count < 0) return false;
    const out = this.out;
    this.writeId();
    out.raw(uBuf, uStart, uEnd);
    out.byte(TAB);
    out.byte(0x7b); // {
    for (let k = 0; k < count; k++) {
      if (k > 0) out.byte(0x2c);
      out.raw(f.buf, this.idStarts[k]!, this.idEnds[k]!);
    }
    out.byte(0x7d); // }
    out.byte(TAB);
    if (kind === 0) out.byte(ZERO);
    else out.raw(rBuf, rStart, rEnd);
    out.byte(TAB);
    out.uint(line);
    out.byte(LF);
    this.typedRows++;
    return true;
  }

  /** Parses the `;` list into this.ids (repeats dropped); the count, or -1 when not certainly valid. */
  private compounds(buf: Buffer, start: number, end: number): number {
    const ids = this.ids,
      starts = this.idStarts,
      ends = this.idEnds;
    const known = this.known.compounds;
    let count = 0;
    let from = start;
    for (;;) {
      let to = from;
      while (to < end && buf[to] !== SEMI) to++;
      let s = from,
        e = to;
      while (s < e && (buf[s] === SPACE || buf[s] === TAB)) s++;
      while (e > s && (buf[e - 1] === SPACE || buf[e - 1] === TAB)) e--;
      const id = parseId(buf, s, e);
      if (id < 0 || !known.has(id)) return -1;
      let repeat = false;
      for (let k = 0; k < count; k++) {
        if (ids[k] === id) {
          repeat = true;
          break;
        }
      }
      if (!repeat) {
        if (count >= MAX_TYPED_COMPOUNDS) return -1;
        ids[count] = id;
        starts[count] = digitsStart;
        ends[count] = e;
        count++;
      }
      if (to >= end) break;
      from = to + 1;
    }
    return count;
  }
}

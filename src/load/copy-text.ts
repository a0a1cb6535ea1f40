// PostgreSQL's COPY text format, written byte by byte: the one writer for the splitter's text rows
// (csv-to-copy.ts) and the typed rows (typed-rows.ts). The bytes both of them test and write are
// named here once.
export const TAB = 0x09;
export const LF = 0x0a;
export const CR = 0x0d;
export const SPACE = 0x20;
export const BACKSLASH = 0x5c;
export const ZERO = 0x30;

/**
 * Copies `src[start, end)` into `dst` at `at` escaped for PostgreSQL's COPY text format (backslash,
 * tab, line feed and carriage return become `\\`, `\t`, `\n`, `\r`); returns the new end. `dst`
 * must have room for twice the bytes. The one copy of the rule, for the text and the typed rows.
 */
export function writeEscaped(dst: Buffer, at: number, src: Buffer, start: number, end: number): number {
  let n = at;
  for (let i = start; i < end; i++) {
    const b = src[i]!;
    if (b === BACKSLASH || b === TAB || b === LF || b === CR) {
      dst[n++] = BACKSLASH;
      dst[n++] = b === BACKSLASH ? BACKSLASH : b === TAB ? 0x74 : b === LF ? 0x6e : 0x72;
    } else {
      dst[n++] = b;
    }
  }
  return n;
}

/** COPY text-format output (tab-separated, backslash escapes, `\N` for NULL) in one growing buffer. */
export class CopyText {
  private buf: Buffer;
  length = 0;

  constructor(capacity = 1 << 16) {
    this.buf = Buffer.allocUnsafe(Math.max(capacity, 64));
  }

  private room(n: number): void {
    if (this.length + n <= this.buf.length) return;
    const bigger = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.length + n));
    this.buf.copy(bigger, 0, 0, this.length);
    this.buf = bigger;
  }

  /** What was written, in the writer's own buffer (no copy): for a writer not written to again. */
  written(): Buffer {
    return this.buf.subarray(0, this.length);
  }

  /** What was written, copied out; the writer starts again empty (and small, after a large batch). */
  take(): Buffer {
    const out = Buffer.allocUnsafeSlow(this.length);
    this.buf.copy(out, 0, 0, this.length);
    this.length = 0;
    if (this.buf.length > 1 << 22) this.buf = Buffer.allocUnsafe(1 << 16);
    return out;
  }

  byte(b: number): void {
    this.room(1);
    this.buf[this.length++] = b;
  }

  /** Bytes known to need no escaping (digits, a checked date). */
  raw(src: Buffer, s: number, e: number): void {
    this.room(e - s);
    if (e - s > 64) {
      src.copy(this.buf, this.length, s, e);
      this.length += e - s;
      return;
    }
    // Fields are a few bytes: a loop beats Buffer#copy's per-call cost here.
    const buf = this.buf;
    let n = this.length;
    for (let i = s; i < e; i++) buf[n++] = src[i]!;
    this.length = n;
  }

  /** A non-negative integer in decimal, without building a string. */
  uint(v: number): void {
    this.room(16);
    const buf = this.buf;
    let digits = 1;
    for (let x = v; x >= 10; x = Math.floor(x / 10)) digits++;
    let n = this.length + digits;
    this.length = n;
    do {
      buf[--n] = ZERO + (v % 10);
      v = Math.floor(v / 10);
    } while (v > 0);
  }

  /** A tab then a boolean (`t` or `f`). */
  flag(value: boolean): void {
    this.room(2);
    this.buf[this.length++] = TAB;
    this.buf[this.length++] = value ? 0x74 : 0x66;
  }

  /** A tab then `\N`. */
  nullField(): void {
    this.room(3);
    this.buf[this.length++] = TAB;
    this.buf[this.length++] = BACKSLASH;
    this.buf[this.length++] = 0x4e;
  }

  text(s: string): void {
    const bytes = Buffer.from(s);
    this.escaped(bytes, 0, bytes.length);
  }

  escaped(src: Buffer, s: number, e: number): void {
    this.room((e - s) * 2);
    this.length = writeEscaped(this.buf, this.length, src, s, e);
  }
}

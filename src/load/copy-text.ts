const TAB = 0x09;
const LF = 0x0a;
const CR = 0x0d;
const BACKSLASH = 0x5c;

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

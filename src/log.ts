/** Operational messages. They go to stderr so that stdout stays for results (the CLI's JSON). */
export type Log = (message: string) => void;

/** Longest log line (in characters, after escaping), so no input can flood the log. */
const MAX_LOG_CHARS = 2000;
/** Longest error message (in characters, after escaping) a run records, returns or logs. */
export const MAX_MESSAGE_CHARS = 500;

export const log: Log = (message) => {
  process.stderr.write(`${new Date().toISOString()} ${printable(message, MAX_LOG_CHARS)}\n`);
};

// C0 and C1 controls, DEL, line/paragraph separators and bidirectional overrides: anything that
// can start a new line, move the cursor, recolour a terminal or reorder what a reader sees.
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/;
const NAMED: Record<string, string> = { '\n': '\\n', '\r': '\\r', '\t': '\\t' };

/**
 * Text that is safe to log or return in an error, whatever it came from: control characters are
 * escaped (`\n`, `\r`, `\t`, `\x1b`, `\u202e`), and text longer than `maxChars` characters (after
 * escaping) is cut to at most `maxChars` ending with `…`, never inside an escape or a character.
 * The one helper for every logged or returned value that may carry input text.
 */
export function printable(text: string, maxChars = MAX_MESSAGE_CHARS): string {
  let out = '';
  let fits = 0; // the longest run of whole pieces that leaves room for the ellipsis
  for (const char of text) {
    const piece = UNSAFE.test(char) ? escapeChar(char) : char;
    if (out.length + piece.length > maxChars) return `${out.slice(0, fits)}…`;
    out += piece;
    if (out.length < maxChars) fits = out.length;
  }
  return out;
}

function escapeChar(char: string): string {
  const code = char.codePointAt(0)!;
  return NAMED[char] ?? (code <= 0xff ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16).padStart(4, '0')}`);
}

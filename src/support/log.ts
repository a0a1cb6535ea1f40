import pino, { type Level, type Logger } from 'pino';
import pretty from 'pino-pretty';

/**
 * Operational events, one per line on stderr (stdout stays for results: the CLI's JSON).
 *
 * JSON lines (`level`, `time`, `msg` and the event's fields) unless stderr is a terminal or
 * `LOG_FORMAT=pretty`, which print them for people through pino-pretty. `LOG_LEVEL` (trace, debug,
 * info, warn, error, fatal, silent; default info) sets the least severe level written.
 *
 * JSON lines are written asynchronously (pino.destination with `sync: false`): a line is handed to
 * a libuv thread at once, and lines logged while a write is in flight go out together in the next
 * one, so a request's line costs the event loop no system call of its own (docs/performance.md,
 * "Point reads under load"). No line is held back waiting for more (`minLength` 0). None is lost on an
 * exit through process.exit(): pino writes what is still buffered synchronously on 'exit', and
 * exit waits for libuv's threads to finish the writes in flight; before a SIGKILL of its own the
 * process calls flushLogSync(). Pretty lines (for people at a terminal) stay synchronous.
 */
/** Longest log message (in characters, after escaping), so no input can flood the log. */
const MAX_LOG_CHARS = 2000;
/** Longest error message (in characters, after escaping) a run records, returns or logs. */
export const MAX_MESSAGE_CHARS = 500;

export type LogFields = Record<string, unknown>;

type Destination = ReturnType<typeof pino.destination>;

/** Logs `message` with `fields` (run_id, step, duration_ms, ...) at `level` (info by default). */
export type Log = (message: string, fields?: LogFields, level?: LogLevel) => void;
export type LogLevel = Extract<Level, 'debug' | 'info' | 'warn' | 'error'>;

export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const;

export interface LogSettings {
  level: (typeof LOG_LEVELS)[number];
  format: 'json' | 'pretty';
}

/** Reads LOG_LEVEL and LOG_FORMAT; an unknown value is reported, not fatal (logging must not stop the service). */
export function logSettings(
  env: NodeJS.ProcessEnv = process.env,
  tty = process.stderr.isTTY === true,
): LogSettings & { problems: string[] } {
  const problems: string[] = [];
  const levelText = (env.LOG_LEVEL || 'info').toLowerCase();
  const level = (LOG_LEVELS as readonly string[]).includes(levelText) ? (levelText as LogSettings['level']) : 'info';
  if (level !== levelText) problems.push(`LOG_LEVEL must be one of ${LOG_LEVELS.join(', ')}; using info`);
  const formatText = (env.LOG_FORMAT || (tty ? 'pretty' : 'json')).toLowerCase();
  const format = formatText === 'pretty' ? 'pretty' : 'json';
  if (format !== formatText) problems.push(`LOG_FORMAT must be json or pretty; using json`);
  return { level, format, problems };
}

/** A pino logger to stderr with the given settings. */
export function createLogger({ level, format }: LogSettings, fd = 2): Logger {
  if (format === 'pretty') {
    return pino(
      { level },
      pretty({ destination: fd, sync: true, colorize: process.stderr.isTTY === true, translateTime: 'SYS:HH:MM:ss.l', singleLine: true }),
    );
  }
  return pino(
    {
      level,
      base: { pid: process.pid },
      timestamp: pino.stdTimeFunctions.isoTime,
      // "level":"info" rather than pino's number: what log shippers and people expect to read.
      formatters: { level: (label) => ({ level: label }) },
    },
    pino.destination({ dest: fd, sync: false }),
  );
}

/**
 * Writes the lines `logger` (the process's by default) still buffers, synchronously: for a process
 * about to end in a way that runs no 'exit' handler (its own SIGKILL). Never throws: logging must
 * not stop a shutdown.
 */
export function flushLogSync(logger = current?.logger): void {
  try {
    const destination = logger && ((logger as unknown as Record<symbol, unknown>)[pino.symbols.streamSym] as Partial<Destination>);
    destination?.flushSync?.();
  } catch {
    // Nothing more can be done for the log.
  }
}

/**
 * The process's logger, made when first needed or when an entry point opens it (openLog), never at
 * import: importing printable() or a type opens no stream, and whoever starts the process decides
 * the settings.
 */
let current: { logger: Logger; config: LogSettings } | undefined;

/**
 * Makes the logger from LOG_LEVEL and LOG_FORMAT in `env` (src/server.ts and src/cli.ts do, first
 * thing), and warns about an unknown value. Once made, it stays: a later call changes nothing.
 */
export function openLog(env: NodeJS.ProcessEnv = process.env): Logger {
  if (!current) {
    const settings = logSettings(env);
    current = { logger: createLogger(settings), config: { level: settings.level, format: settings.format } };
    for (const problem of settings.problems) current.logger.warn(problem);
  }
  return current.logger;
}

/** The level and format in force. */
export function logConfig(): LogSettings {
  openLog();
  return current!.config;
}

/**
 * Every message goes through printable(): escaped and bounded, so no input text can forge a line,
 * recolour a terminal or flood the log (field values are escaped by the JSON encoding).
 */
export const log: Log = (message, fields, level = 'info') => {
  const text = printable(message, MAX_LOG_CHARS);
  const logger = openLog();
  if (fields) logger[level](fields, text);
  else logger[level](text);
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
  // Most text has nothing to escape or cut (every request's path is logged): then it is the answer.
  if (text.length <= maxChars && !UNSAFE.test(text)) return text;
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

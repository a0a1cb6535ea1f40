/**
 * The rules of a valid row that the loader's typing layer (typed-rows.ts) shares with the SQL that
 * judges rows (etl.to_id, etl.to_date, etl.to_run_time in sql/000003-parsers.sql and
 * 000007-faster-parsers.sql; the length checks in sql/transform/020-users.sql and 030-compounds.sql),
 * named once on the TypeScript side. The SQL keeps its own copy in applied migrations, which are
 * never edited: test/load/rules.test.ts feeds generated strings to both and fails when they disagree, and
 * checks that each grammar below is the one written in the SQL function.
 */

/** The largest id: 2^53 - 1, so that no JSON reader loses digits of an id. */
export const MAX_ID = Number.MAX_SAFE_INTEGER;

/** Digits of an id after its leading zeros (2^53 - 1 has 16). */
export const MAX_ID_DIGITS = 16;

/** An id as etl.to_id accepts it: leading zeros allowed (007 is 7), not zero, at most MAX_ID. */
export const ID_GRAMMAR = `^0*[1-9][0-9]{0,${MAX_ID_DIGITS - 1}}$`;

/** A date as etl.to_date accepts it, when it also exists (no 2023-02-30) and the year is not 0000. */
export const DATE_GRAMMAR = '^[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$';

/** Digits before and after the point of a run time; bounded so the cast cannot overflow. */
export const RUN_TIME_DIGITS = 15;
/** Digits of a run time's exponent. */
export const RUN_TIME_EXPONENT_DIGITS = 2;

/** A run time as etl.to_run_time accepts it, when it is also not negative (-0 is 0). */
export const RUN_TIME_GRAMMAR =
  `^[+-]?([0-9]{1,${RUN_TIME_DIGITS}}(\\.[0-9]{0,${RUN_TIME_DIGITS}})?|\\.[0-9]{1,${RUN_TIME_DIGITS}})` +
  `([eE][+-]?[0-9]{1,${RUN_TIME_EXPONENT_DIGITS}})?$`;

/** Longest text values, in characters (code points, as PostgreSQL's length() counts them). */
export const MAX_CHARS = {
  name: 1000,
  email: 1000,
  compound_name: 1000,
  compound_structure: 100_000,
} as const;

/** A reject keeps at most this many bytes of its raw line (cut on a character boundary). */
export const REJECT_RAW_BYTES = 1000;

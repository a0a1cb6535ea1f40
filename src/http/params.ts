// Path and query parameters as zod schemas, shared by the API's routes and the dashboard's pages
// (one rule, one message for an id or a number in an address, wherever it is given).
import { z } from '@hono/zod-openapi';
import { MAX_ID, MAX_ID_DIGITS } from '../load/rules.js';
import { printable } from '../support/log.js';

/** A value from a request, quoted for an error message: escaped and bounded by printable(). */
export const quoted = (value: unknown) => `"${printable(String(value), 40)}"`;

/**
 * A path parameter holding an id: a positive integer up to 2^53 - 1, written without sign, point
 * or exponent. Any failure has one message, naming what was given.
 */
export const idParam = (name: string, example: number) => {
  const message = (issue: { input?: unknown }) => `${quoted(issue.input)} is not a valid id (a positive integer)`;
  return (
    z
      .string({ error: message })
      .regex(new RegExp(`^[1-9][0-9]{0,${MAX_ID_DIGITS - 1}}$`), { error: message })
      // Checked on the text, before it becomes a number: 9007199254740993 converts to ...992, and the
      // message must quote what the client sent.
      .refine((text) => Number(text) <= MAX_ID, { error: message })
      .transform(Number)
      .openapi({ param: { name, in: 'path' }, type: 'integer', minimum: 1, maximum: MAX_ID, example })
  );
};

/**
 * An optional integer query parameter in [min, max], decimal digits only (`1e3`, `-1`, ` 5` and
 * a repeated parameter are refused). `fallback` is what an absent parameter means.
 */
export const intQuery = (name: string, min: number, max: number, example: number, description: string, fallback?: number) => {
  const message = (issue: { input?: unknown }) => `${name} must be an integer from ${min} to ${max}, got ${quoted(issue.input)}`;
  const schema = z
    .string({ error: message })
    .regex(/^[0-9]{1,16}$/, { error: message })
    // On the text, as in idParam: the message quotes the digits sent, not their rounded value.
    .refine((text) => Number(text) >= min && Number(text) <= max, { error: message })
    .transform(Number)
    .optional();
  return (fallback === undefined ? schema : schema.transform((value) => value ?? fallback)).openapi({
    param: { name, in: 'query' },
    type: 'integer',
    minimum: min,
    maximum: max,
    example,
    description,
    ...(fallback === undefined ? {} : { default: fallback }),
  });
};

/** Which file's rejects: one of the three input files by name. */
export const rejectFileQuery = (files: readonly string[]) =>
  z
    .enum(files as [string, ...string[]], { error: (issue) => `file must be one of ${files.join(', ')}, got ${quoted(issue.input)}` })
    .optional()
    .openapi({ param: { name: 'file', in: 'query' }, example: files[0], description: 'Only the rejects of this file.' });

/** PostgreSQL's text cannot hold a NUL, so no stored value has one: a parameter with one finds nothing and is refused (it was a 500). */
const NO_NUL = (name: string) => `${name} must not contain a NUL character`;

/** A kind of reject reason, as GET /runs/{id}/rejects/reasons lists them (the values taken out). */
export const reasonQuery = z
  .string({ error: (issue) => `reason must be a reason as /runs/{id}/rejects/reasons lists it, got ${quoted(issue.input)}` })
  .min(1, { error: 'reason must not be empty' })
  .max(1000, { error: 'reason must be at most 1000 characters' })
  .refine((v) => !v.includes('\0'), { error: NO_NUL('reason') })
  .optional()
  .openapi({
    param: { name: 'reason', in: 'query' },
    example: 'user_id … is not an accepted user',
    description:
      'Only the rejects of this kind of reason: a reason with its values written `…`, as GET /runs/{id}/rejects/reasons lists it.',
  });

/** The columns GET /data/users (and the features page) sort by. */
export const USER_SORTS = ['user_id', 'name', 'email', 'total_experiments', 'average_run_time', 'top_compound_name'] as const;

/** GET /data/users's query, shared with the dashboard's features page (same rules, same messages). */
export const usersQuery = (maxLimit: number, fallbackLimit: number) => ({
  sort: z
    .enum(USER_SORTS, { error: (issue) => `sort must be one of ${USER_SORTS.join(', ')}, got ${quoted(issue.input)}` })
    .optional()
    .transform((v) => v ?? 'user_id')
    .openapi({
      param: { name: 'sort', in: 'query' },
      example: 'name',
      default: 'user_id',
      description:
        'The column to sort by; ties are broken by user_id. Text (name, email, top_compound_name) is compared lower-cased, in code-point order. Users without experiments (average_run_time and top_compound_name null) come last ascending and first descending.',
    }),
  dir: z
    .enum(['asc', 'desc'], { error: (issue) => `dir must be asc or desc, got ${quoted(issue.input)}` })
    .optional()
    .transform((v) => v ?? 'asc')
    .openapi({ param: { name: 'dir', in: 'query' }, example: 'desc', default: 'asc', description: 'Ascending or descending.' }),
  q: z
    .string({ error: (issue) => `q must be text, got ${quoted(issue.input)}` })
    .max(200, { error: 'q must be at most 200 characters' })
    .refine((v) => !v.includes('\0'), { error: NO_NUL('q') })
    .optional()
    .transform((v) => (v === undefined ? undefined : v.trim() || undefined))
    .openapi({
      param: { name: 'q', in: 'query' },
      example: 'mar',
      description:
        'Search: all digits is that user id; anything else is a case-insensitive prefix of the name or of the email (`mar` finds Marie Curie and mark@example.org).',
    }),
  limit: intQuery('limit', 1, maxLimit, 50, 'Users per page.', fallbackLimit),
  after: cursorQuery('after', "The page after a previous answer's `next`."),
  before: cursorQuery('before', "The page before a previous answer's `prev`."),
});

const cursorQuery = (name: string, description: string) =>
  z
    .string({ error: (issue) => `${name} must be a cursor from a previous answer, got ${quoted(issue.input)}` })
    .min(1, { error: `${name} must be a cursor from a previous answer, got ""` })
    .max(2000, { error: `${name} must be a cursor from a previous answer (at most 2000 characters)` })
    .optional()
    .openapi({
      param: { name, in: 'query' },
      description,
      example: 'eyJyIjozLCJzIjoibmFtZSIsImQiOiJhc2MiLCJxIjoiIiwiayI6Im1hcmllIGN1cmllIiwiaSI6MX0.Xx2yzoa0dA1Kx3Ex',
    });

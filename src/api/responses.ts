// The pieces of the OpenAPI document the routes share: media types and the error answers.
import type { z } from '@hono/zod-openapi';
import { ErrorBody } from '../http/schemas.js';
import { RETRY_AFTER_SECONDS } from './streams.js';

export const JSON_TYPE = 'application/json';
export const CSV_TYPE = 'text/csv; charset=utf-8; header=present';
export const ID_EXAMPLE = 1;

/**
 * A response made outside zod-openapi's typed helpers (a stream, the docs page), whose body the
 * route's schema describes but the compiler cannot check.
 */
export const untyped = (response: Promise<Response | void> | Response) => response as Promise<never>;

// Responses shared by the routes, as the OpenAPI document describes them.
export const json = <T extends z.ZodType>(schema: T, description: string) => ({ description, content: { [JSON_TYPE]: { schema } } });
export const retryAfter = {
  'Retry-After': {
    description: 'Seconds to wait before trying again.',
    schema: { type: 'integer' as const, example: RETRY_AFTER_SECONDS },
  },
};
export const errors = {
  400: json(ErrorBody, 'A parameter is invalid; the message names it.'),
  404: json(ErrorBody, 'No such resource.'),
  405: {
    ...json(ErrorBody, 'The path exists but not with this method; `Allow` lists the methods it takes.'),
    headers: { Allow: { description: 'The methods the path takes.', schema: { type: 'string' as const, example: 'GET, HEAD' } } },
  },
  413: json(ErrorBody, 'The request body is over 16 KiB.'),
  500: json(ErrorBody, 'An unexpected failure (logged by the service; the body says no more).'),
  503: {
    ...json(
      ErrorBody,
      'The database does not answer, or a limit is reached (connections, streamed answers): try again after `Retry-After`.',
    ),
    headers: retryAfter,
  },
};
export const common = {
  403: json(
    ErrorBody,
    'The request was for a host name the service does not answer (see ALLOWED_HOSTS), or, for POST, a web page on another origin sent it (see ALLOWED_ORIGINS).',
  ),
  405: errors[405],
  413: errors[413],
  500: errors[500],
};

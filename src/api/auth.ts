import { createHash, timingSafeEqual } from 'node:crypto';
import type { MiddlewareHandler } from 'hono';

export interface TokenOptions {
  /** API_TOKEN: when unset, nothing is checked. */
  apiToken?: string;
  /** API_TOKEN_READS=1: reads need the token too. */
  apiTokenReads?: boolean;
}

const READS = new Set(['GET', 'HEAD', 'OPTIONS']);

/**
 * With a token set, every request that can change state (any method but GET, HEAD and OPTIONS) must
 * carry `Authorization: Bearer <token>`, and reads too with `apiTokenReads`; `/health` stays open
 * (health checks of Docker and load balancers carry no token, and it tells nothing). Anything else
 * gets 401 JSON before any body is read.
 *
 * Not hono/bearer-auth: it answers a malformed header 400 in plain text and signals through an
 * HTTPException (which this app's onError would turn into a 500), and compares in JavaScript. Here
 * both sides are hashed to equal-length SHA-256 digests and compared with crypto.timingSafeEqual,
 * so neither the token's content nor its length shows in the time taken.
 */
export function requireToken({ apiToken, apiTokenReads = false }: TokenOptions): MiddlewareHandler {
  if (!apiToken) return (_c, next) => next();
  const expected = digest(apiToken);
  return async (c, next) => {
    const read = READS.has(c.req.method);
    if (read && (!apiTokenReads || c.req.path === '/health')) return next();
    const header = c.req.header('authorization');
    const presented = /^Bearer +([^\s,]+) *$/i.exec(header ?? '')?.[1];
    if (presented !== undefined && timingSafeEqual(digest(presented), expected)) return next();
    // Repeated headers reach here joined by ", " (as fetch's Headers does): that is two credentials,
    // not a missing one, and which one counts is not guessed.
    const problem =
      header === undefined
        ? 'missing token'
        : presented === undefined
          ? 'more than one Authorization header, or not a Bearer token'
          : 'wrong token';
    return c.json(
      { error: `${problem}: send Authorization: Bearer <API_TOKEN>` },
      401,
      // A refused request's body is not read; closing tells the client not to send the rest.
      { 'WWW-Authenticate': 'Bearer', ...(read ? {} : { Connection: 'close' }) },
    );
  };
}

const digest = (text: string) => createHash('sha256').update(text, 'utf8').digest();

/** HOST values that only this machine can reach. */
export function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host);
}

// The middleware createApp puts in front of every route (createApp decides their order).
import type { Context, MiddlewareHandler } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { routePath } from 'hono/route';
import { log, printable } from '../support/log.js';
import type { Env } from './context.js';
import type { Metrics } from './metrics.js';
import type { StreamGate } from './streams.js';
import { isUpload } from './upload.js';

/** The longest client X-Request-Id kept, and the characters it may have (letters, digits, _ - =). */
const MAX_REQUEST_ID = 128;
const PLAIN_ID = /^[\w\-=]+$/;

/**
 * An id for every request, in `c.get('requestId')` and the answer's X-Request-Id: the client's
 * X-Request-Id when it is short and plain, else a new UUID (the rule of hono/request-id).
 *
 * Not hono/request-id: it sets the header with c.header(), which makes every answer carry a fetch
 * `Headers` object that @hono/node-server then copies header by header; under @hono/node-server the
 * header is set on Node's own response instead (writeHead merges it in), and the answer keeps its
 * plain header object. That was a tenth of a point read's CPU in Node (docs/performance.md).
 * Elsewhere (app.request() in tests) it is c.header(), as before.
 */
export const requestIds = (): MiddlewareHandler<Env> => (c, next) => {
  const given = c.req.header('x-request-id');
  const id = given !== undefined && given.length <= MAX_REQUEST_ID && PLAIN_ID.test(given) ? given : crypto.randomUUID();
  c.set('requestId', id);
  const outgoing = c.env?.outgoing;
  if (outgoing) outgoing.setHeader('x-request-id', id);
  else c.header('x-request-id', id);
  return next();
};

/** The patterns of middleware (not of a route): the request matched no route. */
const UNMATCHED = new Set(['*', '/*', '']);

/** One log line and one histogram observation per request. */
export const logRequests =
  (metrics: Metrics): MiddlewareHandler<Env> =>
  async (c, next) => {
    const started = performance.now();
    await next();
    const seconds = (performance.now() - started) / 1000;
    // The route that answered, as registered (bounded: clients cannot make up new label values);
    // when none did (404), the middleware's own pattern.
    const matched = routePath(c);
    const route = UNMATCHED.has(matched) ? 'unmatched' : matched;
    const status = c.res.status;
    metrics.httpDuration.observe({ method: c.req.method, route, status: String(status) }, seconds);
    const path = printable(c.req.path, 256);
    log(
      `${c.req.method} ${path} ${status}`,
      {
        request_id: c.get('requestId'),
        method: c.req.method,
        path,
        route,
        status,
        duration_ms: Math.round(seconds * 1e4) / 10,
      },
      status >= 500 ? 'warn' : 'info',
    );
  };

/** Every body is capped at 16 KiB but an upload's, which is streamed (src/api/upload.ts). */
export function limitBodies(): MiddlewareHandler<Env> {
  const limit = bodyLimit({ maxSize: 16 * 1024, onError: (c) => c.json({ error: 'request body too large' }, 413) });
  // A request with neither header has no body (RFC 9112, 6.3): nothing to limit. Asking for its
  // body would make @hono/node-server build a whole Request (and AbortController) for it: a
  // sixteenth of a point read's time under load.
  const hasBody = (c: Context<Env>) => c.req.header('content-length') !== undefined || c.req.header('transfer-encoding') !== undefined;
  return (c, next) => (!hasBody(c) || (c.req.path === '/data' && isUpload(c)) ? next() : limit(c, next));
}

/**
 * HEAD runs the GET route for its status and headers. A streamed body is cancelled, never left
 * unread, so it gives its connection back at once; a JSON body is only measured (Content-Length).
 */
export const headAsGet =
  (gate: StreamGate): MiddlewareHandler<Env> =>
  async (c, next) => {
    await next();
    if (c.req.method !== 'HEAD' || !c.res.body) return;
    if (gate.streamed(c.res)) await c.res.body.cancel().catch(() => {});
    else c.res.headers.set('content-length', String((await c.res.arrayBuffer()).byteLength));
  };

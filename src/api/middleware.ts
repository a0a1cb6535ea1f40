// The middleware createApp puts in front of every route (createApp decides their order).
import type { Context, MiddlewareHandler } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { routePath } from 'hono/route';
import { log, printable } from '../support/log.js';
import type { Env } from './context.js';
import type { Metrics } from './metrics.js';
import type { StreamGate } from './streams.js';
import { isUpload } from './upload.js';

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
    const route = ['*', '/*', ''].includes(matched) ? 'unmatched' : matched;
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

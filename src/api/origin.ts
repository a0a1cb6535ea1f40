import type { Context, MiddlewareHandler } from 'hono';
import { quoted } from '../http/params.js';
import { isLoopback } from './auth.js';

/** Host names a loopback-bound service always answers, whatever the port. */
const LOOPBACK_NAMES = ['localhost', '127.0.0.1', '[::1]'];

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

export interface BrowserOptions {
  /** The address the server binds (HOST); the Host check is on while it is a loopback address. */
  host?: string;
  /** ALLOWED_HOSTS: more host names to answer (and, when set, the Host check is on on any address). */
  allowedHosts?: string[];
  /** ALLOWED_ORIGINS: origins besides the service's own whose pages may change state. */
  allowedOrigins?: string[];
}

/** The host name the request was sent to, as the URL standard writes it (lower case, IPv6 in brackets). */
const requestHost = (c: Context) => new URL(c.req.url).hostname;

/**
 * DNS rebinding: a web page whose own name the attacker points at 127.0.0.1 is, to the browser, on
 * the attacker's origin, so it may read every answer; only the `Host` header it sends (the
 * attacker's name) gives it away. While the service listens on loopback only, it answers the
 * loopback names, its own address and ALLOWED_HOSTS, and nothing else (as Vite and Jupyter do). On
 * another address (HOST=0.0.0.0, Docker) the names it is reached by cannot be known in advance:
 * nothing is checked unless ALLOWED_HOSTS is set. A request without `Host` is not from a browser; it
 * is given the bound address by @hono/node-server and passes.
 */
export function checkHost({ host = '127.0.0.1', allowedHosts = [] }: BrowserOptions): MiddlewareHandler {
  if (!isLoopback(host) && allowedHosts.length === 0) return (_c, next) => next();
  const own = host.includes(':') ? `[${host}]` : host;
  const allowed = new Set([...LOOPBACK_NAMES, own, ...allowedHosts]);
  return async (c, next) => {
    if (allowed.has(requestHost(c))) return next();
    return c.json(
      {
        error: `this service does not answer requests for the host ${quoted(c.req.header('host'))}: add its name to ALLOWED_HOSTS to allow it`,
      },
      403,
      { Connection: 'close' },
    );
  };
}

/**
 * CSRF: a page on another origin can make a browser send POST /data (an auto-submitted multipart
 * form, or fetch with mode "no-cors") without any CORS preflight. A state-changing request is
 * refused when the browser says it comes from another origin: an `Origin` that is neither the
 * service's own (the scheme, host and port the request was sent to) nor in ALLOWED_ORIGINS ("null"
 * from a file:// page or a sandboxed frame included), or `Sec-Fetch-Site: cross-site`/`same-site`
 * (another port of 127.0.0.1 is same-site) without an allowed `Origin`. Requests with neither header
 * are not from a browser's page (curl, scripts, other services) and pass, as before.
 *
 * Not hono/csrf (4.13): it refuses a request that has neither header, which is every curl and
 * script client; it checks only form and text/plain content types; it lets a request through when
 * either header alone looks right; and it answers by throwing an HTTPException with a plain-text
 * body, which this app's onError would turn into a 500.
 */
export function checkOrigin({ allowedOrigins = [] }: BrowserOptions): MiddlewareHandler {
  const listed = new Set(allowedOrigins);
  return async (c, next) => {
    if (SAFE_METHODS.has(c.req.method)) return next();
    const origin = c.req.header('origin');
    const site = c.req.header('sec-fetch-site')?.toLowerCase();
    const fromOtherSite = site === 'cross-site' || site === 'same-site';
    const ok = origin === undefined ? !fromOtherSite : listed.has(origin) || (!fromOtherSite && origin === new URL(c.req.url).origin);
    if (ok) return next();
    return c.json(
      {
        error: `refused: a web page on another origin (${origin === undefined ? `Sec-Fetch-Site: ${site}` : quoted(origin)}) may not change anything here; to let a page served elsewhere do so, add its origin to ALLOWED_ORIGINS`,
      },
      403,
      // Its body is not read: closing tells the client not to send the rest.
      { Connection: 'close' },
    );
  };
}

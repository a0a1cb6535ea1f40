import { secureHeaders } from 'hono/secure-headers';

/**
 * The security headers of the service's HTML pages (the dashboard and the API docs page): a
 * Content-Security-Policy that lets a page load only what this service serves, and no framing
 * (clickjacking: a page of another site could otherwise overlay its buttons). `scripts` and
 * `images` are sources a page needs beside its own files ('self'). Plain HTTP on a local port:
 * HSTS would mean nothing, or pin a name to HTTPS by mistake.
 */
export function pageHeaders({ scripts = [], images = [] }: { scripts?: string[]; images?: string[] } = {}) {
  return secureHeaders({
    contentSecurityPolicy: {
      defaultSrc: ["'self'"],
      scriptSrc: ["'self'", ...scripts],
      styleSrc: ["'self'"],
      imgSrc: ["'self'", ...images],
      connectSrc: ["'self'"],
      formAction: ["'self'"],
      baseUri: ["'none'"],
      objectSrc: ["'none'"],
      frameAncestors: ["'none'"],
    },
    strictTransportSecurity: false,
  });
}

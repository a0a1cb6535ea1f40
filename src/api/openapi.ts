// The OpenAPI document's own parts: its info and the security scheme the routes refer to.
import type { OpenAPIHono } from '@hono/zod-openapi';
import type { Env } from './context.js';

export const OPENAPI_INFO = {
  openapi: '3.1.0',
  info: {
    title: 'lab-features-etl',
    version: '1.0.0',
    description:
      'Per-user features of lab experiments, computed by an SQL-first ETL from three CSV files. Every answer is JSON unless said otherwise; errors are `{"error": "..."}`.',
  },
  // Generated clients take their base URL from here: the service the document was fetched from
  // first, then the address `npm start` listens on unless HOST and PORT say otherwise.
  servers: [
    { url: '/', description: 'The service that served this document.' },
    {
      url: 'http://{host}:{port}',
      description: 'A service on HOST:PORT (npm start: 127.0.0.1:8080).',
      variables: { host: { default: '127.0.0.1' }, port: { default: '8080' } },
    },
  ],
};

export function registerSecurity(app: OpenAPIHono<Env>): void {
  app.openAPIRegistry.registerComponent('securitySchemes', 'bearer', {
    type: 'http',
    scheme: 'bearer',
    description: 'API_TOKEN, when the service has one: needed by POST /data, and by reads too with API_TOKEN_READS=1 (never by /health).',
  });
}

import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import { createHash } from 'node:crypto';
import { SwaggerUI, swaggerUI } from '@hono/swagger-ui';
import { pageHeaders } from '../http/page-headers.js';

/** Where the docs page's scripts and styles are served from: this service, never a CDN. */
export const DOCS_ASSET_BASE = '/docs/swagger-ui-dist';

/** The files of the npm package swagger-ui-dist that the page loads (see @hono/swagger-ui). */
export const DOCS_ASSETS = {
  'swagger-ui.css': 'text/css; charset=utf-8',
  'swagger-ui-bundle.js': 'text/javascript; charset=utf-8',
} as const;
export type DocsAsset = keyof typeof DOCS_ASSETS;

/**
 * GET /docs: Swagger UI on GET /openapi.json. @hono/swagger-ui writes the page; its `baseUrl`
 * points the page at DOCS_ASSET_BASE (it appends `/swagger-ui-dist`), which `docsAsset` serves.
 */
// validatorUrl 'none': Swagger UI would otherwise show a badge loaded from validator.swagger.io.
const DOCS_OPTIONS = { url: '/openapi.json', baseUrl: '/docs', title: 'lab-features-etl API', validatorUrl: 'none' };
export const docsPage = swaggerUI(DOCS_OPTIONS);

/**
 * The page's one inline script (it starts Swagger UI), allowed by its hash: the same SwaggerUI()
 * call writes it into the page, so the hash cannot drift from it, and no other inline script runs.
 */
const inlineScript = /<script>([^]*?)<\/script>/.exec(SwaggerUI(DOCS_OPTIONS))?.[1];
if (inlineScript === undefined) throw new Error('@hono/swagger-ui no longer writes an inline script: revise the docs page CSP');
const scriptHash = `'sha256-${createHash('sha256').update(inlineScript).digest('base64')}'`;

/**
 * The docs page's security headers, as the dashboard's (pageHeaders), plus Swagger UI's inline
 * script by its hash and its icons, which it draws as data: images; its styles are set from
 * script, which CSP allows.
 */
export const docsHeaders = pageHeaders({ scripts: [scriptHash], images: ['data:'] });

const require = createRequire(import.meta.url);
const distDir = path.dirname(require.resolve('swagger-ui-dist/package.json'));
const cache = new Map<DocsAsset, Promise<Buffer>>();

/** The asset's bytes, read from node_modules once and kept (about 2 MB in all). */
export function docsAsset(name: DocsAsset): Promise<Buffer> {
  let bytes = cache.get(name);
  if (!bytes) {
    bytes = readFile(path.join(distDir, name));
    bytes.catch(() => cache.delete(name));
    cache.set(name, bytes);
  }
  return bytes;
}

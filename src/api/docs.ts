import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import { swaggerUI } from '@hono/swagger-ui';

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
export const docsPage = swaggerUI({ url: '/openapi.json', baseUrl: '/docs', title: 'lab-features-etl API' });

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

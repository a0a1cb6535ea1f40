import type { OpenAPIHono } from '@hono/zod-openapi';
import type { Env } from '../../context.js';
import { DOCS_ASSETS, docsAsset, docsPage } from '../../docs.js';
import { OPENAPI_INFO, registerSecurity } from '../../openapi.js';
import { untyped } from '../../responses.js';
import { routes } from './docs.routes.js';

/** The document describes every route registered on `app` when it is first asked for: register these last. */
export function registerDocs(app: OpenAPIHono<Env>): void {
  registerSecurity(app);
  let document: unknown;
  app.openapi(routes.openapi, (c) => c.json((document ??= app.getOpenAPI31Document(OPENAPI_INFO)) as { openapi: string }, 200));
  app.openapi(routes.docs, (c) => untyped(docsPage(c as never, async () => {})));
  app.openapi(
    routes.docsAsset,
    async (c) => {
      const { file } = c.req.valid('param');
      return c.body(new Uint8Array(await docsAsset(file)), 200, {
        'content-type': DOCS_ASSETS[file],
        'cache-control': 'public, max-age=86400',
      });
    },
    (result, c) => {
      // Any other file name is a file that is not there.
      if (!result.success) return c.json({ error: result.error.issues[0]?.message ?? 'no such docs asset' }, 404);
    },
  );
}

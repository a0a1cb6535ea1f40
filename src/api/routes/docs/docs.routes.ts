// The API's own description: the OpenAPI document, the Swagger UI page and its assets.
import { createRoute, z, type RouteConfig } from '@hono/zod-openapi';
import { quoted } from '../../../http/params.js';
import { DOCS_ASSETS, type DocsAsset } from '../../docs.js';
import { common, errors, JSON_TYPE } from '../../responses.js';

export const routes = {
  openapi: createRoute({
    operationId: 'getOpenApiDocument',
    method: 'get',
    path: '/openapi.json',
    tags: ['Operations'],
    summary: 'This document (OpenAPI 3.1)',
    responses: {
      200: { description: 'The OpenAPI document.', content: { [JSON_TYPE]: { schema: z.looseObject({ openapi: z.string() }) } } },
      ...common,
    },
  }),
  docs: createRoute({
    operationId: 'getDocsPage',
    method: 'get',
    path: '/docs',
    tags: ['Operations'],
    summary: 'Interactive API docs (Swagger UI, served by the service itself)',
    responses: { 200: { description: 'An HTML page.', content: { 'text/html': { schema: z.string() } } }, ...common },
  }),
  docsAsset: createRoute({
    operationId: 'getDocsAsset',
    method: 'get',
    path: '/docs/swagger-ui-dist/{file}',
    tags: ['Operations'],
    summary: 'A script or style sheet of the docs page',
    request: {
      params: z.object({
        file: z
          .enum(Object.keys(DOCS_ASSETS) as [DocsAsset, ...DocsAsset[]], { error: (issue) => `no docs asset ${quoted(issue.input)}` })
          .openapi({ param: { name: 'file', in: 'path' }, example: 'swagger-ui.css' }),
      }),
    },
    responses: {
      200: { description: 'The file.', content: { 'text/css': { schema: z.string() }, 'text/javascript': { schema: z.string() } } },
      404: errors[404],
      ...common,
    },
  }),
} satisfies Record<string, RouteConfig>;

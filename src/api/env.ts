import type { HttpBindings } from '@hono/node-server';
import type { RequestIdVariables } from 'hono/request-id';

/** The Hono environment of the API's app: Node's bindings (an upload reads the raw request) and the request id. */
export type Env = { Bindings: Partial<HttpBindings>; Variables: RequestIdVariables };

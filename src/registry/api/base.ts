// GET /v2/ : the API version check. 200 with an empty JSON object (auth is checked before this).
import { BUILTIN_REGISTRY_HEADER } from '../../oci/replication-state.js';
import { methodNotAllowed, type ApiContext, type ApiRequest } from './context.js';

const BODY = '{}';

export async function handleBase(_ctx: ApiContext, r: ApiRequest): Promise<void> {
  if (r.req.method !== 'GET' && r.req.method !== 'HEAD') methodNotAllowed(r.req.method);
  // Tells the proxy's health check this is a built-in registry (replication figures to read).
  r.res.writeHead(200, { 'content-type': 'application/json', 'content-length': BODY.length, [BUILTIN_REGISTRY_HEADER]: '1' });
  r.res.end(r.req.method === 'HEAD' ? undefined : BODY);
}

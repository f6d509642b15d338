// GET /v2/ : the API version check. 200 with an empty JSON object (auth is checked before this).
import { methodNotAllowed, type ApiContext, type ApiRequest } from './context.js';

const BODY = '{}';

export async function handleBase(_ctx: ApiContext, r: ApiRequest): Promise<void> {
  if (r.req.method !== 'GET' && r.req.method !== 'HEAD') methodNotAllowed(r.req.method);
  r.res.writeHead(200, { 'content-type': 'application/json', 'content-length': BODY.length });
  r.res.end(r.req.method === 'HEAD' ? undefined : BODY);
}

// Pushes a built OCI layout over plain HTTP, the way a client does without skopeo: each blob with
// POST then PUT ?digest=, then the top-level manifest. Used where a test or benchmark must act at
// the exact moment the manifest PUT answers (skopeo hides that moment).
import type { Layout } from './oci-layout.js';

/** Uploads every blob of the layout but the top-level manifest; throws on any unexpected status. */
export async function pushLayoutBlobs(base: string, repo: string, layout: Layout): Promise<void> {
  for (const [digest, data] of layout.blobs) {
    if (digest === layout.digest) continue;
    const start = await fetch(`${base}/v2/${repo}/blobs/uploads/`, { method: 'POST' });
    await start.arrayBuffer();
    if (start.status !== 202) throw new Error(`POST blob upload for ${digest}: status ${start.status}, expected 202`);
    const location = new URL(start.headers.get('location')!, base);
    location.searchParams.set('digest', digest);
    const put = await fetch(location, { method: 'PUT', body: data, headers: { 'content-type': 'application/octet-stream' } });
    await put.arrayBuffer();
    if (put.status !== 201) throw new Error(`PUT blob ${digest}: status ${put.status}, expected 201`);
  }
}

/** PUTs the layout's top-level manifest; the response is returned unread so the caller sees the instant it answers. */
export function putLayoutManifest(base: string, repo: string, tag: string, layout: Layout): Promise<Response> {
  return fetch(`${base}/v2/${repo}/manifests/${tag}`, {
    method: 'PUT',
    body: layout.blobs.get(layout.digest),
    headers: { 'content-type': 'application/vnd.oci.image.manifest.v1+json' },
  });
}

// A small OCI push client using fetch: POST to open an upload, several PATCH chunks with
// Content-Range, PUT ?digest= to commit, then the manifest. It follows every Location exactly
// as given (query included), like a conforming client, and lets a test pick the proxy each
// request goes to (to alternate between proxies) and act between steps (restart a proxy).
import { randomBytes } from 'node:crypto';
import { sha256 } from './oci-layout.js';

export { sha256 };

export interface PushClientOptions {
  /** The proxy base URL for the next request (called once per request, so it may alternate). */
  base: () => string;
  /** Awaited after each upload step (`post`, `patch-1`, `patch-2`, ..., `put`). */
  between?: (step: string) => Promise<void> | void;
}

export class PushError extends Error {
  constructor(
    message: string,
    readonly status: number,
    readonly body: string,
  ) {
    super(`${message}: ${status} ${body}`);
  }
}

/** `Location` resolved against the base it came from, then moved onto the next request's base. */
function onBase(location: string, base: string): string {
  const url = new URL(location, base);
  const target = new URL(base);
  url.protocol = target.protocol;
  url.host = target.host;
  return url.toString();
}

async function expectStatus(res: Response, expected: number, what: string): Promise<void> {
  if (res.status !== expected) throw new PushError(what, res.status, await res.text());
  await res.arrayBuffer();
}

export class PushClient {
  constructor(private readonly options: PushClientOptions) {}

  private async step(name: string): Promise<void> {
    await this.options.between?.(name);
  }

  /** Opens an upload session and returns its Location (as given by the server). */
  async openUpload(repository: string): Promise<string> {
    const res = await fetch(`${this.options.base()}/v2/${repository}/blobs/uploads/`, { method: 'POST', headers: { 'content-length': '0' } });
    await expectStatus(res, 202, `POST upload ${repository}`);
    const location = res.headers.get('location');
    if (!location) throw new Error(`POST upload ${repository}: no Location`);
    return location;
  }

  /** Sends one chunk; returns the next Location. */
  async patch(location: string, chunk: Buffer, offset: number): Promise<string> {
    const res = await fetch(onBase(location, this.options.base()), {
      method: 'PATCH',
      headers: {
        'content-type': 'application/octet-stream',
        'content-range': `${offset}-${offset + chunk.length - 1}`,
        'content-length': String(chunk.length),
      },
      body: chunk,
    });
    await expectStatus(res, 202, `PATCH ${offset}+${chunk.length}`);
    const next = res.headers.get('location');
    if (!next) throw new Error('PATCH: no Location');
    return next;
  }

  /** Commits the upload; returns the blob's Location. */
  async commit(location: string, digest: string): Promise<void> {
    const url = new URL(onBase(location, this.options.base()));
    url.searchParams.append('digest', digest);
    const res = await fetch(url, { method: 'PUT', headers: { 'content-length': '0' } });
    await expectStatus(res, 201, `PUT ?digest=${digest}`);
  }

  /** A chunked blob upload: POST, ceil(size / chunkSize) PATCHes, PUT. */
  async pushBlob(repository: string, blob: Buffer, chunkSize: number): Promise<string> {
    const digest = sha256(blob);
    let location = await this.openUpload(repository);
    await this.step('post');
    let n = 0;
    for (let offset = 0; offset < blob.length; offset += chunkSize) {
      location = await this.patch(location, blob.subarray(offset, offset + chunkSize), offset);
      await this.step(`patch-${++n}`);
    }
    await this.commit(location, digest);
    await this.step('put');
    return digest;
  }

  async putManifest(repository: string, reference: string, manifest: Buffer, mediaType: string): Promise<string> {
    const res = await fetch(`${this.options.base()}/v2/${repository}/manifests/${reference}`, {
      method: 'PUT',
      headers: { 'content-type': mediaType, 'content-length': String(manifest.length) },
      body: manifest,
    });
    await expectStatus(res, 201, `PUT manifest ${repository}:${reference}`);
    return sha256(manifest);
  }
}

export interface PushedImage {
  repository: string;
  tag: string;
  manifestDigest: string;
  blobs: string[];
}

export const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';

/**
 * Pushes a one-layer image with a chunked layer upload (and a chunked config upload).
 * Random content, so two pushes never share blobs.
 */
export async function pushImage(
  client: PushClient,
  repository: string,
  tag: string,
  options: { layerBytes?: number; chunkBytes?: number } = {},
): Promise<PushedImage> {
  const layer = randomBytes(options.layerBytes ?? 48 * 1024);
  const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [sha256(layer)] }, nonce: randomBytes(8).toString('hex') }));
  const chunk = options.chunkBytes ?? 16 * 1024;
  const layerDigest = await client.pushBlob(repository, layer, chunk);
  const configDigest = await client.pushBlob(repository, config, Math.max(1, Math.ceil(config.length / 2)));
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: OCI_MANIFEST,
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: configDigest, size: config.length },
      layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: layerDigest, size: layer.length }],
    }),
  );
  const manifestDigest = await client.putManifest(repository, tag, manifest, OCI_MANIFEST);
  return { repository, tag, manifestDigest, blobs: [layerDigest, configDigest] };
}

/** Whether a registry at `base` has the manifest (HEAD by tag), without going through a proxy. */
export async function hasManifest(base: string, repository: string, reference: string): Promise<boolean> {
  const res = await fetch(`${base}/v2/${repository}/manifests/${reference}`, { method: 'HEAD', headers: { accept: OCI_MANIFEST } });
  await res.arrayBuffer();
  if (res.status !== 200 && res.status !== 404) throw new Error(`HEAD manifest on ${base}: ${res.status}`);
  return res.status === 200;
}

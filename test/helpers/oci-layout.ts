// Builds OCI image layouts on disk (no network), for `skopeo copy oci:DIR:TAG docker://...`.
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';

export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  platform?: { architecture: string; os: string };
}

export interface Layout {
  dir: string;
  tag: string;
  /** Digest of the top-level manifest (or index) the tag points at. */
  digest: string;
  blobs: Map<string, Buffer>;
}

export const sha256 = (data: Buffer | string): string => `sha256:${createHash('sha256').update(data).digest('hex')}`;

/** A one-file ustar archive: enough for any client that looks inside a layer. */
export function tarOneFile(name: string, content: Buffer): Buffer {
  const header = Buffer.alloc(512);
  header.write(name, 0, 100, 'utf8');
  header.write('0000644\0', 100);
  header.write('0000000\0', 108);
  header.write('0000000\0', 116);
  header.write(`${content.length.toString(8).padStart(11, '0')}\0`, 124);
  header.write(`${Math.floor(Date.now() / 1000).toString(8).padStart(11, '0')}\0`, 136);
  header.write('        ', 148);
  header.write('0', 156);
  header.write('ustar\0', 257);
  header.write('00', 263);
  let sum = 0;
  for (const byte of header) sum += byte;
  header.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148);
  const padding = Buffer.alloc((512 - (content.length % 512)) % 512);
  return Buffer.concat([header, content, padding, Buffer.alloc(1024)]);
}

class LayoutWriter {
  readonly blobs = new Map<string, Buffer>();
  constructor(readonly dir: string) {
    mkdirSync(join(dir, 'blobs', 'sha256'), { recursive: true });
    writeFileSync(join(dir, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  }
  add(mediaType: string, data: Buffer): Descriptor {
    const digest = sha256(data);
    this.blobs.set(digest, data);
    writeFileSync(join(this.dir, 'blobs', 'sha256', digest.slice(7)), data);
    return { mediaType, digest, size: data.length };
  }
  image(layerSizes: number[], platform = { architecture: 'amd64', os: 'linux' }): Descriptor {
    const layers = layerSizes.map((size, i) =>
      this.add('application/vnd.oci.image.layer.v1.tar+gzip', gzipSync(tarOneFile(`file-${i}.bin`, randomBytes(size)), { level: 1 })),
    );
    const config = this.add(
      'application/vnd.oci.image.config.v1+json',
      Buffer.from(JSON.stringify({ ...platform, rootfs: { type: 'layers', diff_ids: layers.map(() => sha256(randomBytes(8))) }, config: {} })),
    );
    const manifest = { schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', config, layers };
    return { ...this.add('application/vnd.oci.image.manifest.v1+json', Buffer.from(JSON.stringify(manifest))), platform };
  }
  finish(tag: string, top: Descriptor): Layout {
    const ref = { ...top, annotations: { 'org.opencontainers.image.ref.name': tag } };
    writeFileSync(join(this.dir, 'index.json'), JSON.stringify({ schemaVersion: 2, manifests: [ref] }));
    return { dir: this.dir, tag, digest: top.digest, blobs: this.blobs };
  }
}

/** A single-platform image with random layers of the given sizes. */
export function buildImageLayout(options: { layerSizes?: number[]; tag?: string; dir?: string } = {}): Layout {
  const writer = new LayoutWriter(options.dir ?? mkdtempSync(join(tmpdir(), 'oci-layout-')));
  return writer.finish(options.tag ?? 'latest', writer.image(options.layerSizes ?? [1024, 64 * 1024, 256 * 1024]));
}

/** A multi-platform image index over one image per platform. */
export function buildIndexLayout(options: { platforms?: string[]; tag?: string } = {}): Layout {
  const writer = new LayoutWriter(mkdtempSync(join(tmpdir(), 'oci-index-')));
  const manifests = (options.platforms ?? ['linux/amd64', 'linux/arm64']).map((p) => {
    const [os, architecture] = p.split('/');
    return writer.image([2048, 32 * 1024], { os, architecture });
  });
  const index = { schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json', manifests };
  return writer.finish(options.tag ?? 'latest', writer.add('application/vnd.oci.image.index.v1+json', Buffer.from(JSON.stringify(index))));
}

// Checks acknowledged images straight on a replica's storage directory (no HTTP, so nothing can
// fetch them on demand): the tag's link names the manifest digest, and the manifest and every
// blob it references are stored with content that hashes to their digest.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

export interface AckedImage {
  repo: string;
  tag: string;
  digest: string;
  blobs: string[];
}

function blobFile(root: string, digest: string): string {
  const hex = digest.slice('sha256:'.length);
  return join(root, 'blobs', 'sha256', hex.slice(0, 2), hex, 'data');
}

function readOrUndefined(path: string): Buffer | undefined {
  try {
    return readFileSync(path);
  } catch {
    return undefined;
  }
}

/** Why the image is not (yet) complete on this replica, or undefined when it is. */
export function imageProblem(root: string, image: AckedImage): string | undefined {
  const link = readOrUndefined(join(root, 'repositories', image.repo, '_manifests', 'tags', image.tag, 'current', 'link'))?.toString().trim();
  if (link === undefined) return 'no tag link';
  if (link !== image.digest) return `tag points at ${link}`;
  for (const digest of [image.digest, ...image.blobs]) {
    const data = readOrUndefined(blobFile(root, digest));
    if (data === undefined) return `${digest} missing`;
    if (`sha256:${createHash('sha256').update(data).digest('hex')}` !== digest) return `${digest} corrupt`;
  }
  return undefined;
}

/** Images not complete on the replica; those found complete are added to `verified` and not read again. */
export function missingOnDisk(root: string, images: readonly AckedImage[], verified: Set<string>): { image: string; why: string }[] {
  const out: { image: string; why: string }[] = [];
  for (const image of images) {
    const key = `${image.repo}:${image.tag}`;
    if (verified.has(key)) continue;
    const why = imageProblem(root, image);
    if (why === undefined) verified.add(key);
    else out.push({ image: key, why });
  }
  return out;
}

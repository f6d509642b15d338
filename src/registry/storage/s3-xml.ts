// The few S3 XML answers the driver reads (ListObjectsV2, ListMultipartUploads, ListParts,
// InitiateMultipartUpload, errors) and
// the one it writes (CompleteMultipartUpload, DeleteObjects). S3's XML is flat and machine
// written, so element extraction by name is enough; no XML dependency.

const ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };

export function xmlDecode(text: string): string {
  return text.replace(/&(#x[0-9a-fA-F]+|#\d+|amp|lt|gt|quot|apos);/g, (_m, e: string) => {
    if (e.startsWith('#x')) return String.fromCodePoint(parseInt(e.slice(2), 16));
    if (e.startsWith('#')) return String.fromCodePoint(parseInt(e.slice(1), 10));
    return ENTITIES[e];
  });
}

export function xmlEncode(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&${Object.keys(ENTITIES).find((k) => ENTITIES[k] === c)};`);
}

/** The decoded text of every `<name>...</name>` in `xml`, in order. */
export function elements(xml: string, name: string): string[] {
  const out: string[] = [];
  const re = new RegExp(`<${name}>([\\s\\S]*?)</${name}>`, 'g');
  for (let m = re.exec(xml); m; m = re.exec(xml)) out.push(m[1]);
  return out;
}

export function element(xml: string, name: string): string | undefined {
  const v = elements(xml, name)[0];
  return v === undefined ? undefined : xmlDecode(v);
}

export interface ListPage {
  keys: string[];
  prefixes: string[];
  nextToken: string | undefined;
}

export function parseListObjectsV2(xml: string): ListPage {
  const keys = elements(xml, 'Contents').map((c) => xmlDecode(elements(c, 'Key')[0] ?? ''));
  const prefixes = elements(xml, 'CommonPrefixes').map((c) => xmlDecode(elements(c, 'Prefix')[0] ?? ''));
  const truncated = element(xml, 'IsTruncated') === 'true';
  return { keys, prefixes, nextToken: truncated ? element(xml, 'NextContinuationToken') : undefined };
}

export interface MultipartUpload {
  key: string;
  uploadId: string;
  /** When it was begun (ms since the epoch; NaN when the answer has none). */
  initiatedMs: number;
}

export function parseListMultipartUploads(xml: string): { uploads: MultipartUpload[]; next: { key: string; uploadId: string } | undefined } {
  const uploads = elements(xml, 'Upload').map((u) => ({ key: element(u, 'Key') ?? '', uploadId: element(u, 'UploadId') ?? '', initiatedMs: Date.parse(element(u, 'Initiated') ?? '') }));
  const next = { key: element(xml, 'NextKeyMarker') ?? '', uploadId: element(xml, 'NextUploadIdMarker') ?? '' };
  return { uploads, next: element(xml, 'IsTruncated') === 'true' ? next : undefined };
}

export interface ListedPart {
  partNumber: number;
  etag: string;
  size: number;
}

export function parseListParts(xml: string): { parts: ListedPart[]; nextMarker: string | undefined } {
  const parts = elements(xml, 'Part').map((p) => ({ partNumber: Number(element(p, 'PartNumber')), etag: element(p, 'ETag') ?? '', size: Number(element(p, 'Size')) }));
  return { parts, nextMarker: element(xml, 'IsTruncated') === 'true' ? element(xml, 'NextPartNumberMarker') : undefined };
}

export function completeMultipartBody(etags: string[]): string {
  const parts = etags.map((etag, i) => `<Part><PartNumber>${i + 1}</PartNumber><ETag>${xmlEncode(etag)}</ETag></Part>`);
  return `<CompleteMultipartUpload>${parts.join('')}</CompleteMultipartUpload>`;
}

export function deleteObjectsBody(keys: string[]): string {
  return `<Delete><Quiet>true</Quiet>${keys.map((k) => `<Object><Key>${xmlEncode(k)}</Key></Object>`).join('')}</Delete>`;
}

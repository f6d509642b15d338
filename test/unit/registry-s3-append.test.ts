// The pure parts of the S3 upload sessions: the state object's encoding, the copy ranges a
// reopened upload is rebuilt from, and the ListParts / ListMultipartUploads answers with paging.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { copyRanges, decodeAppendState, encodeAppendState } from '../../src/registry/storage/s3-append.js';
import { parseListMultipartUploads, parseListParts } from '../../src/registry/storage/s3-xml.js';

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;

describe('S3 upload sessions', () => {
  it('round-trips a state with its tail bytes, including a tail that looks like JSON', () => {
    const state = { uploadId: '2~abc', parts: [{ etag: '"e1"', size: 6 * MiB }], tail: Buffer.from('{"x":1}'), prev: 123 };
    const back = decodeAppendState(encodeAppendState(state));
    assert.deepEqual({ ...back, tail: back.tail.toString() }, { ...state, tail: '{"x":1}' });
    const empty = decodeAppendState(encodeAppendState({ parts: [], tail: Buffer.alloc(0) }));
    assert.equal(empty.uploadId, undefined);
    assert.equal(empty.tail.length, 0);
  });

  it('splits a copied prefix into ranges S3 accepts as parts (<= 5 GiB, >= 5 MiB, contiguous)', () => {
    for (const size of [5 * MiB, 4 * GiB, 4 * GiB + 1, 9 * GiB + 12345, 40 * GiB]) {
      const ranges = copyRanges(size);
      assert.equal(ranges[0].start, 0);
      assert.equal(ranges.at(-1)!.end, size - 1);
      for (const [i, r] of ranges.entries()) {
        const bytes = r.end - r.start + 1;
        assert.ok(bytes <= 5 * GiB && bytes >= 5 * MiB, `${size}: range ${i} has ${bytes} bytes`);
        if (i > 0) assert.equal(r.start, ranges[i - 1].end + 1);
      }
    }
  });

  it('reads ListParts and ListMultipartUploads pages with their markers', () => {
    const parts = parseListParts(
      '<ListPartsResult><IsTruncated>true</IsTruncated><NextPartNumberMarker>2</NextPartNumberMarker>' +
        '<Part><PartNumber>1</PartNumber><ETag>&quot;a&quot;</ETag><Size>5242880</Size></Part>' +
        '<Part><PartNumber>2</PartNumber><ETag>&quot;b&quot;</ETag><Size>7</Size></Part></ListPartsResult>',
    );
    assert.deepEqual(parts, { parts: [{ partNumber: 1, etag: '"a"', size: 5242880 }, { partNumber: 2, etag: '"b"', size: 7 }], nextMarker: '2' });
    assert.equal(parseListParts('<ListPartsResult><IsTruncated>false</IsTruncated></ListPartsResult>').nextMarker, undefined);
    const uploads = parseListMultipartUploads(
      '<ListMultipartUploadsResult><NextKeyMarker>k&amp;2</NextKeyMarker><NextUploadIdMarker>u2</NextUploadIdMarker><IsTruncated>true</IsTruncated>' +
        '<Upload><Key>k1</Key><UploadId>u1</UploadId><Initiated>2026-12-01T14:15:00.000Z</Initiated></Upload><Upload><Key>k&amp;2</Key><UploadId>u2</UploadId></Upload></ListMultipartUploadsResult>',
    );
    assert.deepEqual(uploads, {
      uploads: [
        { key: 'k1', uploadId: 'u1', initiatedMs: Date.UTC(2026, 11, 1, 14, 15) },
        { key: 'k&2', uploadId: 'u2', initiatedMs: NaN },
      ],
      next: { key: 'k&2', uploadId: 'u2' },
    });
  });
});

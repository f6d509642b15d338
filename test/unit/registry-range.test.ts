import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseContentRange, parseRangeHeader, uploadRangeHeader } from '../../src/registry/api/range.js';

describe('blob GET Range parsing', () => {
  const size = 100;
  const cases: [string | undefined, unknown][] = [
    [undefined, undefined],
    ['', undefined],
    ['bytes=0-9', { start: 0, end: 9 }],
    ['bytes=90-', { start: 90, end: 99 }],
    ['bytes=90-500', { start: 90, end: 99 }],
    ['bytes=-10', { start: 90, end: 99 }],
    ['bytes=-500', { start: 0, end: 99 }],
    ['bytes=100-', 'unsatisfiable'],
    ['bytes=5-4', 'unsatisfiable'],
    ['bytes=-0', 'unsatisfiable'],
    ['bytes=-', 'unsatisfiable'],
    ['bytes=0-1,5-6', 'unsatisfiable'],
    ['lines=0-1', 'unsatisfiable'],
  ];
  for (const [header, expected] of cases) {
    it(`parses ${header} against 100 bytes`, () => assert.deepEqual(parseRangeHeader(header, size), expected));
  }
  it('finds nothing satisfiable in an empty blob', () => assert.equal(parseRangeHeader('bytes=0-', 0), 'unsatisfiable'));
});

describe('upload Content-Range parsing', () => {
  const cases: [string | undefined, unknown][] = [
    [undefined, undefined],
    ['0-99', { start: 0, end: 99 }],
    ['bytes 100-199/*', { start: 100, end: 199 }],
    ['bytes=5-9', { start: 5, end: 9 }],
    ['9-5', 'invalid'],
    ['0-', 'invalid'],
    ['abc', 'invalid'],
  ];
  for (const [header, expected] of cases) {
    it(`parses ${header}`, () => assert.deepEqual(parseContentRange(header), expected));
  }
  it('formats the upload Range header with the last byte received', () => {
    assert.equal(uploadRangeHeader(0), '0-0');
    assert.equal(uploadRangeHeader(1), '0-0');
    assert.equal(uploadRangeHeader(1000), '0-999');
  });
});

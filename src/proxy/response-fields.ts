// A backend's response header fields on their way to the client, kept as the flat list Node's
// writeHead() takes ([name, value, name, value, ...], names in lower case), not as an object.
// Building an object per response (a property per field, a dictionary of its own key set for
// every response) took about 4 us of the 80 us of CPU a small proxied GET costs (CPU profile
// under wrk, Node 20), twice what the list takes; the few fields the proxy reads (Location,
// Docker-Content-Digest, the replicas' deleted marker) are found by scanning a dozen names.
// Repeated fields stay the lines the backend sent (Set-Cookie must; for the others it is what the
// backend framed), and get() joins them with ", " as Node's parser would.
import { HOP_BY_HOP_HEADERS } from '../net/hop-by-hop.js';

export class ResponseFields {
  private constructor(
    /** [name, value, ...]: what writeHead() sends. */
    readonly list: string[],
  ) {}

  /**
   * From the backend's raw lines, without the hop-by-hop fields and those its Connection header
   * lists.
   */
  static fromRaw(raw: readonly Buffer[]): ResponseFields {
    const list: string[] = [];
    let listed: string | undefined;
    for (let i = 0; i < raw.length; i += 2) {
      const name = raw[i].toString('latin1').toLowerCase();
      const value = raw[i + 1].toString('latin1');
      if (HOP_BY_HOP_HEADERS.has(name)) {
        if (name === 'connection' && value !== 'keep-alive' && value !== 'close') listed = listed === undefined ? value : `${listed}, ${value}`;
        continue;
      }
      list.push(name, value);
    }
    const fields = new ResponseFields(list);
    if (listed !== undefined) for (const token of listed.split(',')) fields.delete(token.trim().toLowerCase());
    return fields;
  }

  /** From name -> value(s), in that order: how the tests build a backend's answer. */
  static of(headers: Readonly<Record<string, string | readonly string[]>>): ResponseFields {
    const fields = new ResponseFields([]);
    for (const [name, value] of Object.entries(headers)) {
      for (const one of typeof value === 'string' ? [value] : value) fields.append(name, one);
    }
    return fields;
  }

  /** The value of `name` (lower case); repeated lines joined with ", ". */
  get(name: string): string | undefined {
    const list = this.list;
    let value: string | undefined;
    for (let i = 0; i < list.length; i += 2) {
      if (list[i] === name) value = value === undefined ? list[i + 1] : `${value}, ${list[i + 1]}`;
    }
    return value;
  }

  /** Every line of `name`, in order (the tests read Set-Cookie with it). */
  all(name: string): string[] {
    const values: string[] = [];
    for (let i = 0; i < this.list.length; i += 2) if (this.list[i] === name) values.push(this.list[i + 1]);
    return values;
  }

  has(name: string): boolean {
    return this.position(name) >= 0;
  }

  /** Replaces every line of `name` with one (in the first one's place; at the end if there was none). */
  set(name: string, value: string): void {
    const first = this.position(name);
    if (first < 0) {
      this.list.push(name, value);
      return;
    }
    this.list[first + 1] = value;
    this.deleteFrom(name, first + 2);
  }

  append(name: string, value: string): void {
    this.list.push(name, value);
  }

  delete(name: string): void {
    this.deleteFrom(name, 0);
  }

  private position(name: string): number {
    for (let i = 0; i < this.list.length; i += 2) if (this.list[i] === name) return i;
    return -1;
  }

  private deleteFrom(name: string, start: number): void {
    const list = this.list;
    for (let i = start; i < list.length; ) {
      if (list[i] === name) list.splice(i, 2);
      else i += 2;
    }
  }
}

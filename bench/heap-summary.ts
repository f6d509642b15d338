// Reads a V8 heap snapshot (the JSON `--heapsnapshot-signal` writes) into object counts and self
// sizes per constructor, and compares two of them: what grew between them is where a leak lives.
interface RawSnapshot {
  snapshot: { meta: { node_fields: string[]; node_types: [string[], ...unknown[]] } };
  nodes: number[];
  strings: string[];
}

export interface HeapSummary {
  totalBytes: number;
  /** `type:name` -> count and self size. */
  groups: Map<string, { count: number; bytes: number }>;
}

export function summariseHeapSnapshot(json: string): HeapSummary {
  const raw = JSON.parse(json) as RawSnapshot;
  const fields = raw.snapshot.meta.node_fields;
  const width = fields.length;
  const typeAt = fields.indexOf('type');
  const nameAt = fields.indexOf('name');
  const sizeAt = fields.indexOf('self_size');
  const types = raw.snapshot.meta.node_types[0];
  const groups = new Map<string, { count: number; bytes: number }>();
  let totalBytes = 0;
  for (let i = 0; i < raw.nodes.length; i += width) {
    const type = types[raw.nodes[i + typeAt]];
    // Strings and code are grouped by type only: their names are their contents.
    const name = type === 'object' || type === 'closure' || type === 'native' ? raw.strings[raw.nodes[i + nameAt]] : '';
    const key = `${type}:${name}`;
    const size = raw.nodes[i + sizeAt];
    const g = groups.get(key) ?? { count: 0, bytes: 0 };
    g.count++;
    g.bytes += size;
    groups.set(key, g);
    totalBytes += size;
  }
  return { totalBytes, groups };
}

/** The `limit` groups whose self size grew most from `before` to `after`. */
export function heapGrowth(before: HeapSummary, after: HeapSummary, limit: number): { name: string; countDelta: number; bytesDelta: number }[] {
  const out = [...after.groups].map(([name, g]) => {
    const b = before.groups.get(name) ?? { count: 0, bytes: 0 };
    return { name, countDelta: g.count - b.count, bytesDelta: g.bytes - b.bytes };
  });
  return out.sort((a, b) => b.bytesDelta - a.bytesDelta).slice(0, limit);
}

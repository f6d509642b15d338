// The attempts in flight on one pool, so a mark-down can reach them: an intrusive doubly linked
// list (each attempt carries its own links) rather than a Set. Measured with --trace-gc-nvp on
// one proxy process under `wrk -c32` of 1 KiB GETs (allocation-site pretenuring off, see
// src/process/heap-tuning.ts): with every attempt added to a long-lived Set and deleted again,
// 2.1 MB survived each young-generation collection and the collector paused 21-23 us per
// request; with this list 0.32 MB and 8-9 us, as without any registry. A finished attempt
// is unlinked both ways, so a dead one promoted to the old generation points at no live one.

/** What the list links: an attempt's own fields, used by this list only. */
export interface InFlightNode {
  prevInFlight: InFlightNode | undefined;
  nextInFlight: InFlightNode | undefined;
}

export class InFlightList<T extends InFlightNode> {
  private head: T | undefined;

  add(node: T): void {
    node.prevInFlight = undefined;
    node.nextInFlight = this.head;
    if (this.head) this.head.prevInFlight = node;
    this.head = node;
  }

  /** Unlinks `node`; a node not in the list (removed already) is left alone. */
  remove(node: T): void {
    const { prevInFlight: prev, nextInFlight: next } = node;
    if (prev === undefined && this.head !== node) return;
    if (prev) prev.nextInFlight = next;
    else this.head = next as T | undefined;
    if (next) next.prevInFlight = prev;
    // A finished attempt keeps no link into live ones, so it cannot keep them alive.
    node.prevInFlight = node.nextInFlight = undefined;
  }

  /** The nodes now in the list, newest first (a copy: callers may remove while they walk it). */
  toArray(): T[] {
    const out: T[] = [];
    for (let n: InFlightNode | undefined = this.head; n; n = n.nextInFlight) out.push(n as T);
    return out;
  }
}

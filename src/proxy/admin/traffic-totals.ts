// Per-backend traffic totals for /status, read from the proxy's own Prometheus text (with
// --workers that text is already summed over the workers, so /status and /metrics agree).
// Rates are left to the reader: two readings and their times give them.

export interface TrafficTotals {
  /** Responses received from the backend. */
  responses: number;
  /** 5xx responses plus failed attempts (no answer: connect error, reset, timeout). */
  errors: number;
  bytesIn: number;
  bytesOut: number;
}

const SAMPLE = /^(\w+)\{([^}]*)\}\s+(\S+)$/;
const LABEL = /(\w+)="((?:[^"\\]|\\.)*)"/g;

function labelsOf(text: string): Map<string, string> {
  const labels = new Map<string, string>();
  for (const m of text.matchAll(LABEL)) labels.set(m[1], m[2].replace(/\\n/g, '\n').replace(/\\(.)/g, '$1'));
  return labels;
}

/** Totals by backend name; a backend with no traffic yet has zeros. */
export function trafficTotals(metricsText: string, names: readonly string[]): Map<string, TrafficTotals> {
  const totals = new Map(names.map((n) => [n, { responses: 0, errors: 0, bytesIn: 0, bytesOut: 0 }]));
  for (const line of metricsText.split('\n')) {
    const m = SAMPLE.exec(line);
    if (!m || !m[1].startsWith('haproxy_server_')) continue;
    const labels = labelsOf(m[2]);
    const t = totals.get(labels.get('server') ?? '');
    const value = Number(m[3]);
    if (!t || !Number.isFinite(value)) continue;
    if (m[1] === 'haproxy_server_http_responses_total') {
      t.responses += value;
      if (labels.get('code') === '5xx') t.errors += value;
    } else if (m[1] === 'haproxy_server_failures_total') t.errors += value;
    else if (m[1] === 'haproxy_server_bytes_in_total') t.bytesIn += value;
    else if (m[1] === 'haproxy_server_bytes_out_total') t.bytesOut += value;
  }
  return totals;
}

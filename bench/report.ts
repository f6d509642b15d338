// Turns per-round measurements into medians, ratios to HAProxy from the same run, and one table.

export interface SmallRound {
  rps: number;
  p50Ms: number;
  p99Ms: number;
  cpuUsPerReq: number | null;
  peakRssMiB: number | null;
  failed: number;
}

export interface BlobRound {
  mbPerS: number;
  peakRssMiB: number | null;
  peakProcessRssMiB: number | null;
  /** Proxy CPU time per GiB moved: less sensitive to a noisy neighbour than MB/s. */
  cpuSPerGiB: number | null;
  ok: boolean;
}

export interface TargetSummary {
  target: string;
  rps: number;
  p50Ms: number;
  p99Ms: number;
  cpuUsPerReq: number | null;
  smallPeakRssMiB: number | null;
  failed: number;
  blobMBps: number | null;
  blobPeakRssMiB: number | null;
  blobPeakProcessRssMiB: number | null;
  blobCpuSPerGiB: number | null;
  rpsRatio: number | null;
  p99Ratio: number | null;
  blobRatio: number | null;
}

export function median(values: number[]): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

function medianOrNull(values: (number | null)[]): number | null {
  const present = values.filter((v): v is number => v !== null && Number.isFinite(v));
  return present.length === 0 ? null : median(present);
}

const maxOrNull = (values: (number | null)[]): number | null => {
  const present = values.filter((v): v is number => v !== null);
  return present.length === 0 ? null : Math.max(...present);
};

export function summarize(target: string, small: SmallRound[], blob: BlobRound[]): TargetSummary {
  const okBlobs = blob.filter((b) => b.ok);
  return {
    target,
    rps: median(small.map((r) => r.rps)),
    p50Ms: median(small.map((r) => r.p50Ms)),
    p99Ms: median(small.map((r) => r.p99Ms)),
    cpuUsPerReq: medianOrNull(small.map((r) => r.cpuUsPerReq)),
    smallPeakRssMiB: maxOrNull(small.map((r) => r.peakRssMiB)),
    failed: small.reduce((sum, r) => sum + r.failed, 0),
    blobMBps: okBlobs.length === 0 ? null : median(okBlobs.map((b) => b.mbPerS)),
    // Peaks are the worst round, not the median: the memory target is a ceiling.
    blobPeakRssMiB: maxOrNull(okBlobs.map((b) => b.peakRssMiB)),
    blobPeakProcessRssMiB: maxOrNull(okBlobs.map((b) => b.peakProcessRssMiB)),
    blobCpuSPerGiB: medianOrNull(okBlobs.map((b) => b.cpuSPerGiB)),
    rpsRatio: null,
    p99Ratio: null,
    blobRatio: null,
  };
}

/** Fills the ratios to the `reference` target (HAProxy), measured in the same run. */
export function withRatios(rows: TargetSummary[], reference = 'haproxy'): TargetSummary[] {
  const ref = rows.find((r) => r.target === reference);
  if (!ref) return rows;
  return rows.map((r) => ({
    ...r,
    rpsRatio: r.rps / ref.rps,
    p99Ratio: r.p99Ms / ref.p99Ms,
    blobRatio: r.blobMBps !== null && ref.blobMBps !== null ? r.blobMBps / ref.blobMBps : null,
  }));
}

const fmt = (v: number | null, digits = 0): string => (v === null || !Number.isFinite(v) ? '-' : v.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits }));
const ratio = (v: number | null): string => (v === null || !Number.isFinite(v) ? '-' : `${v.toFixed(2)}x`);

/** A Markdown table: it prints readably on a terminal and pastes into RESULTS.md unchanged. */
export function formatTable(rows: TargetSummary[]): string {
  const head = ['target', '1 KiB GET req/s', 'vs HAProxy', 'p50 ms', 'p99 ms', 'p99 vs HAProxy', 'proxy CPU us/req', 'proxy RSS MiB (small)', '512 MiB GET MB/s', 'vs HAProxy', 'proxy CPU s/GiB', 'proxy RSS MiB during blob (total / largest process)', 'failed GETs'];
  const lines = [`| ${head.join(' | ')} |`, `|${head.map(() => '---').join('|')}|`];
  for (const r of rows) {
    lines.push(`| ${[
      r.target,
      fmt(r.rps),
      ratio(r.rpsRatio),
      fmt(r.p50Ms, 2),
      fmt(r.p99Ms, 2),
      ratio(r.p99Ratio),
      fmt(r.cpuUsPerReq, 1),
      fmt(r.smallPeakRssMiB),
      fmt(r.blobMBps),
      ratio(r.blobRatio),
      fmt(r.blobCpuSPerGiB, 2),
      r.blobPeakRssMiB === null ? '-' : `${fmt(r.blobPeakRssMiB)} / ${fmt(r.blobPeakProcessRssMiB)}`,
      String(r.failed),
    ].join(' | ')} |`);
  }
  return lines.join('\n');
}

export interface FailoverResult {
  target: string;
  requests: number;
  failed: number;
  detail: string;
}

export function formatFailoverTable(rows: FailoverResult[]): string {
  const lines = ['| target | GETs during the run | failed GETs | detail |', '|---|---|---|---|'];
  for (const r of rows) lines.push(`| ${r.target} | ${fmt(r.requests)} | ${r.failed} | ${r.detail} |`);
  return lines.join('\n');
}

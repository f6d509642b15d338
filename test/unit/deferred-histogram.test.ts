import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AggregatorRegistry, Histogram, Registry, type MetricObjectWithValues, type MetricValue } from 'prom-client';
import { deferredHistogram } from '../../src/observability/deferred-histogram.js';
import { DURATION_BUCKETS } from '../../src/observability/metrics.js';

type MetricsJson = MetricObjectWithValues<MetricValue<string>>[];

const CONFIG = { name: 'x_duration_seconds', help: 'x', labelNames: ['code'] as const, buckets: DURATION_BUCKETS };
type Code = '2xx' | '4xx' | '5xx';

/** The same observations go to a deferred histogram and to a real prom-client one, each in its own registry. */
function pair(config: { labelNames?: readonly 'code'[] } = CONFIG) {
  const deferredRegistry = new Registry();
  const plainRegistry = new Registry();
  const deferred = deferredHistogram({ ...CONFIG, ...config, registers: [deferredRegistry] });
  const plain = new Histogram({ ...CONFIG, ...config, registers: [plainRegistry] });
  const cells = new Map<string, [ReturnType<typeof deferred.labels>, ReturnType<typeof plain.labels>]>();
  const cell = (code: Code | undefined) => {
    const key = code ?? '';
    let c = cells.get(key);
    const labels = code === undefined ? {} : { code };
    if (!c) cells.set(key, (c = [deferred.labels(labels), plain.labels(labels)]));
    return c;
  };
  const observe = (code: Code | undefined, value: number): void => {
    const c = cell(code);
    c[0].observe(value);
    c[1].observe(value);
  };
  const same = async (): Promise<string> => {
    const text = await deferredRegistry.metrics();
    assert.equal(text, await plainRegistry.metrics());
    assert.deepEqual(await deferredRegistry.getMetricsAsJSON(), await plainRegistry.getMetricsAsJSON());
    return text;
  };
  return { deferredRegistry, plainRegistry, cell, observe, same };
}

const sample = (text: string, series: string): number | undefined => {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
};

// On bounds, between them, 0, negative, above the last bound, and sums that round (0.1 + 0.2).
const VALUES = [0, 0.001, 0.0015, 0.005, 0.1, 0.2, 0.25, 1, 599.9, 600, 601, 1e6, -1];

describe('deferredHistogram: cells read out as a prom-client Histogram would show them', () => {
  it('text and JSON equal a real Histogram fed the same values, scrape after scrape', async () => {
    const h = pair();
    // Children made in one order (as the proxy makes them at start-up), first observed in another:
    // series show only once observed, in the order of their first observation.
    for (const code of ['2xx', '4xx', '5xx'] as const) h.cell(code);
    assert.doesNotMatch(await h.same(), /x_duration_seconds_count/);
    VALUES.forEach((v, i) => h.observe((['5xx', '2xx', '4xx'] as const)[i % 3], v));
    let text = await h.same();
    assert.equal(sample(text, 'x_duration_seconds_count{code="5xx"}'), 5);
    assert.equal(sample(text, 'x_duration_seconds_bucket{le="0.001",code="5xx"}'), 2);
    assert.equal(sample(text, 'x_duration_seconds_bucket{le="600",code="4xx"}'), 3);
    // A scrape with nothing new counts nothing twice.
    assert.equal(await h.same(), text);
    for (const v of VALUES) h.observe('2xx', v);
    text = await h.same();
    assert.equal(sample(text, 'x_duration_seconds_count{code="2xx"}'), 4 + VALUES.length);
  });

  it('resetMetrics() empties both and the same cells count again afterwards', async () => {
    const h = pair();
    for (const v of VALUES) h.observe('2xx', v);
    h.observe('5xx', 3);
    await h.same();
    h.deferredRegistry.resetMetrics();
    h.plainRegistry.resetMetrics();
    assert.doesNotMatch(await h.same(), /x_duration_seconds_count/);
    h.observe('5xx', 0.02);
    const text = await h.same();
    assert.equal(sample(text, 'x_duration_seconds_count{code="5xx"}'), 1);
    assert.equal(sample(text, 'x_duration_seconds_sum{code="5xx"}'), 0.02);
    assert.equal(sample(text, 'x_duration_seconds_count{code="2xx"}'), undefined);
  });

  it('without labels: a zero series at start, none after a reset until observed, like prom-client', async () => {
    const h = pair({ labelNames: [] });
    assert.equal(sample(await h.same(), 'x_duration_seconds_count'), 0);
    h.observe(undefined, 0.3);
    assert.equal(sample(await h.same(), 'x_duration_seconds_count'), 1);
    h.deferredRegistry.resetMetrics();
    h.plainRegistry.resetMetrics();
    assert.equal(sample(await h.same(), 'x_duration_seconds_count'), undefined);
    h.observe(undefined, 2);
    assert.equal(sample(await h.same(), 'x_duration_seconds_sum'), 2);
  });

  it('the JSON the primary sums over workers aggregates as two real Histograms do', async () => {
    const workers = [pair(), pair()];
    workers.forEach((w, i) => VALUES.forEach((v, j) => w.observe(j % 2 === i ? '2xx' : '4xx', v * (i + 1))));
    const json = async (pick: (w: (typeof workers)[number]) => Registry): Promise<MetricsJson[]> =>
      (await Promise.all(workers.map((w) => pick(w).getMetricsAsJSON()))) as MetricsJson[];
    const deferred = AggregatorRegistry.aggregate(await json((w) => w.deferredRegistry));
    const plain = AggregatorRegistry.aggregate(await json((w) => w.plainRegistry));
    const text = await deferred.metrics();
    assert.equal(text, await plain.metrics());
    assert.equal(sample(text, 'x_duration_seconds_count{code="2xx"}'), VALUES.length);
  });

  it('the same labels give the same series; an unknown label name throws', async () => {
    const registry = new Registry();
    const h = deferredHistogram({ ...CONFIG, registers: [registry] });
    h.labels({ code: '2xx' }).observe(1);
    h.labels({ code: '2xx' }).observe(2);
    const text = await registry.metrics();
    assert.equal(sample(text, 'x_duration_seconds_count{code="2xx"}'), 2);
    assert.equal(text.match(/x_duration_seconds_count/g)?.length, 1);
    assert.throws(() => h.labels({ method: 'GET' } as never), /not included in initial labelset/);
  });

  it('ignores values that are not finite instead of throwing or poisoning the sum', async () => {
    const registry = new Registry();
    const cell = deferredHistogram({ ...CONFIG, registers: [registry] }).labels({ code: '2xx' });
    cell.observe(0.5);
    cell.observe(Number.NaN);
    cell.observe(Number.POSITIVE_INFINITY);
    const text = await registry.metrics();
    assert.equal(sample(text, 'x_duration_seconds_count{code="2xx"}'), 1);
    assert.equal(sample(text, 'x_duration_seconds_sum{code="2xx"}'), 0.5);
  });
});

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AggregatorRegistry, Registry, type MetricObjectWithValues, type MetricValue } from 'prom-client';
import { deferredCounter } from '../../src/observability/deferred-counter.js';

const sample = (text: string, series: string): number | undefined => {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
};

describe('deferredCounter: plain-number cells copied into prom-client at scrape time', () => {
  it('every scrape shows the total so far, per label set, and later increments add to it', async () => {
    const registry = new Registry();
    const c = deferredCounter({ name: 'x_total', help: 'x', labelNames: ['server'], registers: [registry] });
    const a = c.labels({ server: 'a' });
    const b = c.labels({ server: 'b' });
    a.inc();
    a.inc(1024);
    b.inc(2);
    let text = await registry.metrics();
    assert.equal(sample(text, 'x_total{server="a"}'), 1025);
    assert.equal(sample(text, 'x_total{server="b"}'), 2);
    // A second scrape with nothing new must not count the same increments again.
    text = await registry.metrics();
    assert.equal(sample(text, 'x_total{server="a"}'), 1025);
    a.inc(5);
    text = await registry.metrics();
    assert.equal(sample(text, 'x_total{server="a"}'), 1030);
    assert.equal(sample(text, 'x_total{server="b"}'), 2);
  });

  it('a counter without labels shows 0 before any increment, like a prom-client Counter', async () => {
    const registry = new Registry();
    const c = deferredCounter({ name: 'requests_total', help: 'r', registers: [registry] }).labels();
    assert.equal(sample(await registry.metrics(), 'requests_total'), 0);
    c.inc();
    assert.equal(sample(await registry.metrics(), 'requests_total'), 1);
  });

  it('the JSON form the primary sums over workers carries the same totals', async () => {
    const workers = [new Registry(), new Registry()];
    workers.forEach((registry, i) => deferredCounter({ name: 'bytes_total', help: 'b', registers: [registry] }).labels().inc(10 * (i + 1)));
    const json = (await Promise.all(workers.map((r) => r.getMetricsAsJSON()))) as MetricObjectWithValues<MetricValue<string>>[][];
    assert.equal(sample(await AggregatorRegistry.aggregate(json).metrics(), 'bytes_total'), 30);
  });
});

// The event loop's busy time, as scraped: it grows by the time callbacks ran, not by the time the loop
// waited, so that `rate()` over a window is the loop's utilization.
import { setTimeout as sleep } from 'node:timers/promises';
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { commonMetrics } from '../../../node-runtime/metrics/common.js';

const busySeconds = async (registry: Registry) => {
  const text = await registry.metrics();
  const line = text.split('\n').find((l) => l.startsWith('wa_event_loop_busy_seconds_total '));
  if (!line) throw new Error(`no busy counter in:\n${text}`);
  return Number(line.slice(line.lastIndexOf(' ') + 1));
};

const spin = (ms: number) => {
  const until = performance.now() + ms;
  while (performance.now() < until) {}
};

describe('wa_event_loop_busy_seconds_total', () => {
  it('grows by the time callbacks run and not by the time the loop waits', async () => {
    const registry = new Registry();
    commonMetrics(registry, () => []);
    const start = await busySeconds(registry);
    expect(start).toBeGreaterThan(0); // the test file's own start-up ran on this loop

    spin(300);
    const afterSpin = await busySeconds(registry);
    expect(afterSpin - start).toBeGreaterThanOrEqual(0.29);

    await sleep(400);
    const afterWait = await busySeconds(registry);
    expect(afterWait - afterSpin).toBeLessThan(0.2);
    expect(afterWait).toBeGreaterThanOrEqual(afterSpin); // a counter never goes back
  });

  it('is a counter, help and type included', async () => {
    const registry = new Registry();
    commonMetrics(registry, () => []);
    const text = await registry.metrics();
    expect(text).toMatch(/^# TYPE wa_event_loop_busy_seconds_total counter$/m);
    expect(text).toMatch(/^# HELP wa_event_loop_busy_seconds_total .*utilization/m);
  });
});

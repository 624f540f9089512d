// The request metrics are counted in plain numbers and formatted at scrape time: what a scrape shows must
// be what prom-client's own Counter and Histogram show for the same requests.
import { Counter, Histogram, Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { RequestTally } from '../../../node-runtime/metrics/request-tally.js';

const BOUNDS = [0.001, 0.01, 0.1, 1];
const names = { requests: 'wa_http_requests_total', seconds: 'wa_http_request_duration_seconds' };
const answered: [string, string, number, number][] = [
  ['/api/session/status', 'GET', 200, 0.0004],
  ['/api/session/status', 'GET', 200, 0.001], // on a bound: counted in that bucket
  ['/api/session/status', 'GET', 503, 0.05],
  ['/api/send', 'POST', 200, 0.3],
  ['/api/send', 'POST', 200, 7], // past the last bound: +Inf only
  ['unmatched', 'GET', 404, 0.002],
];

function reference(): Registry {
  const registry = new Registry();
  const requests = new Counter({
    name: names.requests,
    help: 'Requests answered, by route pattern, method and status',
    labelNames: ['route', 'method', 'status'] as const,
    registers: [registry],
  });
  const seconds = new Histogram({
    name: names.seconds,
    help: 'Time to answer a request, by route pattern and method',
    labelNames: ['route', 'method'] as const,
    buckets: BOUNDS,
    registers: [registry],
  });
  for (const [route, method, status, s] of answered) {
    requests.inc({ route, method, status: String(status) });
    seconds.observe({ route, method }, s);
  }
  return registry;
}

describe('RequestTally', () => {
  it("exposes what prom-client's Counter and Histogram would for the same requests", async () => {
    const registry = new Registry();
    const tally = new RequestTally(registry, names, BOUNDS);
    for (const [route, method, status, s] of answered) tally.record(route, method, status, s);
    expect(await registry.metrics()).toBe(await reference().metrics());
  });

  it('shows nothing before the first request, and starts again after a reset', async () => {
    const registry = new Registry();
    const tally = new RequestTally(registry, names, BOUNDS);
    expect(await registry.metrics()).toBe(emptyExposition());
    tally.record('/health', 'GET', 200, 0.002);
    registry.resetMetrics();
    expect(await registry.metrics()).toBe(emptyExposition());
  });
});

const emptyExposition = () =>
  [
    `# HELP ${names.requests} Requests answered, by route pattern, method and status`,
    `# TYPE ${names.requests} counter`,
    '',
    `# HELP ${names.seconds} Time to answer a request, by route pattern and method`,
    `# TYPE ${names.seconds} histogram`,
    '',
  ].join('\n');

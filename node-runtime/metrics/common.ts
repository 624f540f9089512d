// What a host and the Node edge both report: requests by route pattern and status with their latency,
// the database pool's use, how busy the event loop is, and Node's own process metrics (prom-client's
// defaults).
import { performance } from 'node:perf_hooks';
import type { MiddlewareHandler } from 'hono';
import { routePath } from 'hono/route';
import { Counter, collectDefaultMetrics, Gauge, type Registry } from 'prom-client';
import { RequestTally } from './request-tally.js';

/** A pool's connections lent out now and how many it may open, by pool name. */
export type PoolReading = { pool: string; inUse: number; max: number };

/** Registers the process, HTTP and pool metrics; answers the middleware that counts requests. */
export function commonMetrics(registry: Registry, pools: () => PoolReading[]): MiddlewareHandler {
  collectDefaultMetrics({ register: registry });
  const tally = new RequestTally(
    registry,
    { requests: 'wa_http_requests_total', seconds: 'wa_http_request_duration_seconds' },
    [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
  );
  new Gauge({
    name: 'wa_db_pool_connections_in_use',
    help: 'Database connections in use, by pool',
    labelNames: ['pool'] as const,
    registers: [registry],
    collect() {
      for (const p of pools()) this.set({ pool: p.pool }, p.inUse);
    },
  });
  new Gauge({
    name: 'wa_db_pool_connections_max',
    help: 'Database connections a pool may open, by pool',
    labelNames: ['pool'] as const,
    registers: [registry],
    collect() {
      for (const p of pools()) this.set({ pool: p.pool }, p.max);
    },
  });
  eventLoopBusy(registry);
  return async (c, next) => {
    const started = performance.now();
    await next();
    // The route's pattern (bounded), never its path; a path no route matched is `unmatched`.
    const pattern = routePath(c, -1);
    const route = pattern === '*' || pattern === '/*' ? 'unmatched' : pattern;
    tally.record(route, c.req.method, c.res.status, (performance.now() - started) / 1000);
  };
}

/**
 * The event loop's busy time as a counter: `rate()` over a window is the share of it the loop spent
 * running callbacks rather than waiting for I/O. One thread runs all of a host's sessions, so near 1 the
 * host is the bottleneck and every request waits for it (the loop's delay, `nodejs_eventloop_lag_*`,
 * only shows the wait once it is long). Time the process waited for a CPU inside a callback counts as busy.
 */
function eventLoopBusy(registry: Registry) {
  let counted = 0;
  new Counter({
    name: 'wa_event_loop_busy_seconds_total',
    help: 'Time the event loop spent running callbacks rather than waiting (rate() is its utilization)',
    registers: [registry],
    collect() {
      const busy = performance.eventLoopUtilization().active / 1000;
      if (busy <= counted) return;
      this.inc(busy - counted);
      counted = busy;
    },
  });
}

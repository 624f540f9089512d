// The Node edge's Prometheus metrics (GET /metrics with the operator key): requests by route pattern
// and status with their latency, the database pool's use, Node's process metrics.
import type { MiddlewareHandler } from 'hono';
import { Counter, Registry } from 'prom-client';
import type { EdgeObserver } from '../../edge/app.js';
import type { HostCallsObserver } from '../host-calls/client.js';
import { commonMetrics, type PoolReading } from './common.js';

export class EdgeMetrics implements EdgeObserver {
  private readonly registry = new Registry();
  readonly middleware: MiddlewareHandler;
  /** The calls to session hosts and the channels opened to them (node-runtime/host-calls). */
  readonly hostCalls: HostCallsObserver;

  constructor(pools: () => PoolReading[]) {
    this.middleware = commonMetrics(this.registry, pools);
    const calls = new Counter({
      name: 'wa_host_calls_total',
      help: "The edge's calls to session hosts, by how they went: over the host's kept channel, or over HTTP",
      labelNames: ['via'] as const,
      registers: [this.registry],
    });
    const opened = new Counter({
      name: 'wa_host_channels_opened_total',
      help: 'Channels to session hosts the edge tried to open: opened, refused (a host without them), failed',
      labelNames: ['outcome'] as const,
      registers: [this.registry],
    });
    // Bound once: a label look-up per call costs more than the count.
    const via = { channel: calls.labels({ via: 'channel' }), http: calls.labels({ via: 'http' }) };
    this.hostCalls = {
      call: (how) => via[how].inc(),
      opened: (outcome) => opened.inc({ outcome }),
    };
  }

  async scrape() {
    return { body: await this.registry.metrics(), contentType: this.registry.contentType };
  }
}

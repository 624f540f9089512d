// The Node edge's Prometheus metrics (GET /metrics with the operator key): requests by route pattern
// and status with their latency, the database pool's use, Node's process metrics.
import type { MiddlewareHandler } from 'hono';
import { Registry } from 'prom-client';
import type { EdgeObserver } from '../../edge/app.js';
import { commonMetrics, type PoolReading } from './common.js';

export class EdgeMetrics implements EdgeObserver {
  private readonly registry = new Registry();
  readonly middleware: MiddlewareHandler;

  constructor(pools: () => PoolReading[]) {
    this.middleware = commonMetrics(this.registry, pools);
  }

  async scrape() {
    return { body: await this.registry.metrics(), contentType: this.registry.contentType };
  }
}

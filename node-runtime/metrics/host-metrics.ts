// A session host's Prometheus metrics (GET /metrics on its port). Labels are bounded sets (route
// patterns, states, reasons, outcomes): never a tenant, a session or a phone number.
import type { MiddlewareHandler } from 'hono';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { commonMetrics, type PoolReading } from './common.js';

/** What the host reports on scrape, read when Prometheus asks rather than kept up to date. */
export interface HostMetricSources {
  /** How many of this host's sessions are in each public state. */
  sessionStates(): Map<string, number>;
  /** Messages queued for this host's sessions, not yet handed to WhatsApp. */
  outboxDepth(): Promise<number>;
  /** Database connections in use and the pool's size, by pool (`sessions`, `lease`). */
  pools(): PoolReading[];
}

export class HostMetrics {
  readonly registry = new Registry();
  readonly reconnects = new Counter({
    name: 'wa_session_reconnects_total',
    help: 'Sessions connecting again after their socket closed, by why it closed',
    labelNames: ['reason'] as const,
    registers: [this.registry],
  });
  readonly sent = new Counter({
    name: 'wa_messages_sent_total',
    help: 'Messages handed to WhatsApp and acknowledged (sent), or given up on (failed)',
    labelNames: ['outcome'] as const,
    registers: [this.registry],
  });
  readonly askedAgain = new Counter({
    name: 'wa_messages_asked_again_total',
    help: "Retry receipts: a recipient's device could not decrypt a message we sent and asked for it again",
    registers: [this.registry],
  });
  readonly received = new Counter({
    name: 'wa_messages_received_total',
    help: 'Messages from contacts stored (each once, however often WhatsApp delivered it)',
    registers: [this.registry],
  });
  readonly webhookDeliveries = new Counter({
    name: 'wa_webhook_deliveries_total',
    help: 'Webhook delivery attempts, by outcome (delivered, failed, dead, disabled)',
    labelNames: ['outcome'] as const,
    registers: [this.registry],
  });
  readonly webhookSeconds = new Histogram({
    name: 'wa_webhook_delivery_duration_seconds',
    help: 'Time for a webhook endpoint to answer a delivery, by outcome',
    labelNames: ['outcome'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [this.registry],
  });
  readonly memoryGiveBacks = new Counter({
    name: 'wa_memory_give_backs_total',
    help: 'Times the process gave the memory of a past burst back to the system once quiet (memory/give-back.ts)',
    registers: [this.registry],
  });
  readonly memoryGivenBack = new Counter({
    name: 'wa_memory_given_back_bytes_total',
    help: 'Resident memory those give-backs freed',
    registers: [this.registry],
  });
  private sources: HostMetricSources | undefined;

  constructor() {
    const metrics = this;
    new Gauge({
      name: 'wa_sessions',
      help: "This host's sessions, by state",
      labelNames: ['state'] as const,
      registers: [this.registry],
      collect() {
        this.reset();
        for (const [state, count] of metrics.sources?.sessionStates() ?? []) this.set({ state }, count);
      },
    });
    new Gauge({
      name: 'wa_outbox_queued_messages',
      help: "Messages queued for this host's sessions, not yet handed to WhatsApp",
      registers: [this.registry],
      async collect() {
        const depth = await metrics.sources?.outboxDepth().catch(() => undefined);
        if (depth !== undefined) this.set(depth);
      },
    });
  }

  /** Where the gauges read from, once the host's parts exist. */
  observe(sources: HostMetricSources) {
    this.sources = sources;
  }

  /** Counts and times every request by its route pattern. */
  readonly middleware: MiddlewareHandler = commonMetrics(this.registry, () => this.sources?.pools() ?? []);
}

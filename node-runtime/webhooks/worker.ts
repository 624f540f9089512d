// The webhook worker every session host runs: claims endpoints with deliveries due, posts them signed
// (Standard Webhooks), in event order per endpoint, and records every attempt. Woken at once when this
// host writes an event, and every second regardless (events from other hosts, retries coming due).
import type { Kysely } from 'kysely';
import type { Logger } from 'pino';
import { Webhook } from 'standardwebhooks';
import type { Database } from '../../shared/db-schema.js';
import type { SecretBox } from '../../shared/webhook-secrets.js';
import type { WebhookPoster } from './http.js';
import {
  type ClaimedEndpoint,
  claimEndpoints,
  type DueDelivery,
  deliveryAfter,
  disableEndpoint,
  dueDeliveries,
  dueOrRelease,
  recordAttempt,
  releaseEndpoint,
  renewLease,
} from './queue.js';
import { DeliveredRecords } from './records.js';
import { DEFAULT_RETRY_POLICY, type RetryPolicy, retryDelayMs } from './schedule.js';

const LEASE_MS = 30_000;
const POLL_MS = 1_000;
/** Endpoints worked on at once by one worker; each one's deliveries still go one at a time. */
const CONCURRENT_ENDPOINTS = 8;
/** Deliveries looked up at once for an endpoint that keeps up (each still goes after the one before). */
const LOOK_AHEAD = 32;

export type WorkerOptions = {
  db: Kysely<Database>;
  /** Who holds the leases: the host's id. */
  owner: string;
  secrets: SecretBox;
  poster: WebhookPoster;
  logger: Logger;
  policy?: RetryPolicy;
  now?: () => Date;
  /** Told of each attempt: its outcome and how long the endpoint took to answer (metrics). */
  onAttempt?: (outcome: 'delivered' | 'failed' | 'dead' | 'disabled', seconds: number) => void;
  /** How long an idle worker waits before it looks for due deliveries unwoken; default 1 s. */
  pollMs?: number;
};

/** The body of a delivery: `{type, timestamp, data}`, the Standard Webhooks payload shape. */
export const payloadOf = (delivery: Pick<DueDelivery, 'type' | 'data' | 'createdAt'>) =>
  JSON.stringify({ type: delivery.type, timestamp: delivery.createdAt.toISOString(), data: delivery.data });

/** `webhook-signature`: one `v1,<base64>` per secret (two during a rotation's overlap). */
export const signatureOf = (secrets: string[], id: string, at: Date, payload: string) =>
  secrets.map((secret) => new Webhook(secret).sign(id, at, payload)).join(' ');

export class WebhookWorker {
  private readonly policy: RetryPolicy;
  private readonly now: () => Date;
  private running = false;
  private loop: Promise<void> | undefined;
  private wakeUp: (() => void) | undefined;
  /** Wakes so far: a round that began before the last one may have missed what it was for. */
  private wakes = 0;

  constructor(private readonly options: WorkerOptions) {
    this.policy = options.policy ?? DEFAULT_RETRY_POLICY;
    this.now = options.now ?? (() => new Date());
  }

  start() {
    if (this.running) return;
    this.running = true;
    this.loop = this.releaseOwnLeases().then(() => this.run());
  }

  /** Leases held under our name belong to an earlier run of this host that died: free them now. */
  private async releaseOwnLeases() {
    await this.options.db
      .updateTable('webhook_endpoints')
      .set({ lease_owner: null, lease_until: null })
      .where('lease_owner', '=', this.options.owner)
      .execute()
      .catch((err: unknown) =>
        this.options.logger.warn({ err }, 'webhook worker: freeing old leases failed'),
      );
  }

  /** Something was just written that may need delivering. */
  wake() {
    this.wakes += 1;
    this.wakeUp?.();
  }

  /** Stops claiming; deliveries under way finish (each is bounded by its timeout). */
  async stop() {
    this.running = false;
    this.wake();
    await this.loop;
  }

  private async run() {
    while (this.running) {
      let claimed: ClaimedEndpoint[] = [];
      const wakes = this.wakes;
      try {
        claimed = await claimEndpoints(
          this.options.db,
          this.options.owner,
          this.now(),
          LEASE_MS,
          CONCURRENT_ENDPOINTS,
        );
        await Promise.all(claimed.map((endpoint) => this.work(endpoint)));
      } catch (err) {
        this.options.logger.warn({ err }, 'webhook worker: a round failed');
      }
      // Claimed again at once only if something may be due that this round did not take: it took all the
      // endpoints it may, or an event was written since its claim. Otherwise the next poll or wake does.
      const more = claimed.length === CONCURRENT_ENDPOINTS || this.wakes !== wakes;
      if (!more && this.running) await this.idle();
    }
  }

  private idle() {
    return new Promise<void>((resolve) => {
      const timer = setTimeout(done, this.options.pollMs ?? POLL_MS);
      function done() {
        clearTimeout(timer);
        resolve();
      }
      this.wakeUp = done;
    }).finally(() => {
      this.wakeUp = undefined;
    });
  }

  /** Delivers what is due to one endpoint, in order, until it is done or fails. */
  private async work(endpoint: ClaimedEndpoint) {
    const { db, owner, logger } = this.options;
    const secrets = await this.secretsOf(endpoint);
    let failingSince = endpoint.failingSince;
    let leasedAt = this.now().getTime();
    const records = new DeliveredRecords(db, endpoint.id);
    const release = async (nextAttemptAt: Date) => {
      await records.settled();
      await releaseEndpoint(db, endpoint.id, owner, { nextAttemptAt, failingSince });
    };
    let upcoming: DueDelivery[] = [];
    /** The last look reached the end of the queue (and what it found went): the endpoint may be done. */
    let atEnd = false;
    while (this.running) {
      if (upcoming.length === 0) {
        await records.settled();
        if (atEnd) {
          // The look that may find nothing gives the endpoint back itself: one statement, not two.
          const look = await dueOrRelease(
            db,
            { id: endpoint.id, owner, failingSince },
            this.now(),
            LOOK_AHEAD,
          );
          if (look.released) return;
          upcoming = look.due;
        } else {
          upcoming = await dueDeliveries(db, endpoint.id, this.now(), LOOK_AHEAD);
        }
        atEnd = upcoming.length < LOOK_AHEAD;
      }
      const delivery = upcoming.shift();
      if (!delivery) return release(this.now());
      const outcome = await this.attempt(endpoint, delivery, secrets, records);
      // What was looked up assumed each went through: after one that did not, look again.
      if (outcome !== 'delivered') {
        upcoming = [];
        atEnd = false;
      }
      if (outcome === 'delivered') {
        failingSince = null;
      } else if (outcome === 'disabled') {
        return;
      } else if (outcome === 'dead') {
        this.options.logger.warn(
          { webhookId: endpoint.id, eventId: delivery.eventId },
          'webhook delivery given up',
        );
      } else {
        failingSince ??= this.now();
        if (this.now().getTime() - failingSince.getTime() >= this.policy.disableAfterMs) {
          const days = Math.round(this.policy.disableAfterMs / 86_400_000);
          await disableEndpoint(db, endpoint, `every delivery failed for ${days} days`);
          logger.warn({ webhookId: endpoint.id }, 'webhook endpoint disabled: failing for too long');
          return;
        }
        if (!delivery.parked) {
          // The head failed: hold everything after it, unless it alone is the problem.
          if (
            delivery.attempts + 1 >= this.policy.probeAfterFailures &&
            (await this.probe(endpoint, delivery, secrets, records))
          ) {
            failingSince = null;
            continue;
          }
          return release(outcome.nextAttemptAt);
        }
      }
      // Renewed only once half of it is gone: one write per delivery would double the worker's writes.
      if (this.now().getTime() - leasedAt >= LEASE_MS / 2) {
        leasedAt = this.now().getTime();
        if (!(await renewLease(db, endpoint.id, owner, new Date(leasedAt + LEASE_MS)))) {
          return records.settled();
        }
      }
    }
    await release(this.now());
  }

  /**
   * The head has failed again: try the one behind it. If that goes through, the endpoint is up and the
   * head alone fails: it is set aside to retry on its own, and the rest flows in order. If not, the
   * endpoint is down: everything waits, in order.
   */
  private async probe(
    endpoint: ClaimedEndpoint,
    head: DueDelivery,
    secrets: string[],
    records: DeliveredRecords,
  ): Promise<boolean> {
    const next = await deliveryAfter(this.options.db, endpoint.id, head.eventSeq);
    if (!next) return false;
    const outcome = await this.attempt(endpoint, next, secrets, records);
    await records.settled();
    if (outcome !== 'delivered') return false;
    await this.options.db
      .updateTable('webhook_deliveries')
      .set({ parked: true })
      .where('id', '=', head.id)
      .execute();
    return true;
  }

  /**
   * One POST and its record: a delivered one's goes to `records`, written behind the next POST; any
   * other waits for those before it and is written before the outcome is acted on.
   */
  private async attempt(
    endpoint: ClaimedEndpoint,
    delivery: DueDelivery,
    secrets: string[],
    records: DeliveredRecords,
  ): Promise<'delivered' | 'disabled' | 'dead' | { nextAttemptAt: Date }> {
    const { db, poster } = this.options;
    const at = this.now();
    const payload = payloadOf(delivery);
    const started = performance.now();
    const result = await poster.post(endpoint.url, payload, {
      'webhook-id': delivery.eventId,
      'webhook-timestamp': String(Math.floor(at.getTime() / 1000)),
      'webhook-signature': signatureOf(secrets, delivery.eventId, at, payload),
      'user-agent': 'wa-gateway-webhooks',
    });
    const seconds = (performance.now() - started) / 1000;
    const base = {
      delivery,
      endpointId: endpoint.id,
      at,
      statusCode: result.status,
      latencyMs: Math.round(seconds * 1000),
    };
    if (result.ok) {
      records.add({ ...base, error: null, outcome: 'delivered', nextAttemptAt: null });
      this.options.onAttempt?.('delivered', seconds);
      return 'delivered';
    }
    await records.settled();
    if (result.status === 410) {
      await recordAttempt(db, { ...base, error: result.error, outcome: 'disabled', nextAttemptAt: null });
      this.options.onAttempt?.('disabled', seconds);
      await disableEndpoint(db, endpoint, 'the endpoint answered 410 Gone');
      return 'disabled';
    }
    const first = delivery.firstAttemptAt ?? at;
    const dead = at.getTime() - first.getTime() >= this.policy.giveUpAfterMs;
    const nextAttemptAt = new Date(at.getTime() + retryDelayMs(delivery.attempts + 1, this.policy));
    await recordAttempt(db, {
      ...base,
      error: result.error,
      outcome: dead ? 'dead' : 'failed',
      nextAttemptAt: dead ? null : nextAttemptAt,
    });
    this.options.onAttempt?.(dead ? 'dead' : 'failed', seconds);
    // A dead head no longer holds anything up: the next one goes at once.
    return dead ? 'dead' : { nextAttemptAt };
  }

  /** The secrets to sign with: the current one, and the previous one during a rotation's overlap. */
  private async secretsOf(endpoint: ClaimedEndpoint): Promise<string[]> {
    const { secrets } = this.options;
    const current = await secrets.open(endpoint.secret);
    if (!endpoint.previousSecret || !endpoint.previousUntil || endpoint.previousUntil <= this.now())
      return [current];
    return [current, await secrets.open(endpoint.previousSecret)];
  }
}

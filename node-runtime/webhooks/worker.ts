// The webhook worker every session host runs: claims endpoints with deliveries due, posts them signed
// (Standard Webhooks), in event order per endpoint, and records every attempt. Woken at once when this
// host writes an event, and every second regardless (events from other hosts, retries coming due). An
// endpoint that has caught up stays claimed for a moment, waiting for its tenant's next event: a steady
// trickle costs a look and a record per event, not also a claim and a release.
import type { Kysely } from 'kysely';
import type { Logger } from 'pino';
import { Webhook } from 'standardwebhooks';
import type { Database } from '../../shared/db-schema.js';
import type { SecretBox } from '../../shared/webhook-secrets.js';
import { HOST_CONNECTION_PREFIX } from '../db/connect.js';
import type { WebhookPoster } from './http.js';
import {
  type ClaimedEndpoint,
  claimEndpoints,
  type DueDelivery,
  deliveryAfter,
  disableEndpoint,
  dueDeliveries,
  dueOrRelease,
  enabledEndpointsOf,
  type HeldEndpoint,
  type NextAttempt,
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
/** Caught-up endpoints kept leased at once, waiting for their next event (they hold no slot meanwhile). */
const WAITING_ENDPOINTS = 64;
/** Least time between two claims a wake asks for after one that found nothing (a burst's wakes, coalesced). */
const CLAIM_GAP_MS = 20;

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
  /** How long a caught-up endpoint stays claimed for more before it is given back; default 1 s, at most 7.5 s. */
  waitMs?: number;
};

/** The body of a delivery: `{type, timestamp, data}`, the Standard Webhooks payload shape. */
export const payloadOf = (delivery: Pick<DueDelivery, 'type' | 'data' | 'createdAt'>) =>
  JSON.stringify({ type: delivery.type, timestamp: delivery.createdAt.toISOString(), data: delivery.data });

/** `webhook-signature`: one `v1,<base64>` per secret (two during a rotation's overlap). */
export const signatureOf = (secrets: string[], id: string, at: Date, payload: string) =>
  secrets.map((secret) => new Webhook(secret).sign(id, at, payload)).join(' ');

/** True once `arm`'s callback is called, false after `ms`, whichever comes first. */
function wakeable(ms: number, arm: (wake: () => void) => void): Promise<boolean> {
  return new Promise<boolean>((resolve) => {
    const timer = setTimeout(() => resolve(false), ms);
    arm(() => {
      clearTimeout(timer);
      resolve(true);
    });
  });
}

/** An endpoint this worker holds the lease of, worked on or waiting for its next event. */
type Held = {
  tenantId: string;
  /** Its tenant's enabled endpoints when it (or another of its tenant's) was claimed, or they changed. */
  tenantEndpoints: number;
  /** Wakes for its tenant so far, and as of its last look: one that came while it looked is not missed. */
  wakes: number;
  looked: number;
  /** Whether it holds one of the worker's slots (it does not while it waits). */
  slot: boolean;
  /** Its tenant's endpoints changed: it may be one of them, so it waits no more before its next look. */
  changed?: boolean;
  /** Set while it waits: ends the wait. */
  nudge?: () => void;
};

export class WebhookWorker {
  private readonly policy: RetryPolicy;
  private readonly now: () => Date;
  private running = false;
  private loop: Promise<void> | undefined;
  private wakeUp: (() => void) | undefined;
  /** Wakes that may need a claim so far: a claim that began before the last one may have missed it. */
  private wakes = 0;
  private readonly held = new Map<string, Held>();
  private readonly works = new Set<Promise<void>>();
  /** Slots taken (CONCURRENT_ENDPOINTS in all), and the waiting endpoints woken to work, in turn for one. */
  private working = 0;
  private readonly slotQueue: (() => void)[] = [];
  private waiting = 0;
  /** The last claim took as many endpoints as it could, or could take none: a freed slot may find more. */
  private backlog = false;

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

  /**
   * Something was just written that may need delivering: for `tenantId`'s endpoints if given (any tenant's
   * if not). The tenant's endpoints held here look again; the others are claimed (if `claim`), unless
   * every one of the tenant's endpoints is held here already.
   */
  wake(tenantId?: string, claim = true) {
    let heldHere = 0;
    let tenantHas = 0;
    for (const held of this.held.values()) {
      if (tenantId !== undefined && held.tenantId !== tenantId) continue;
      held.wakes += 1;
      held.nudge?.();
      heldHere += 1;
      tenantHas = Math.max(tenantHas, held.tenantEndpoints);
    }
    if (!claim || (tenantId !== undefined && heldHere > 0 && heldHere >= tenantHas)) return;
    this.askForClaim();
  }

  /**
   * PostgreSQL's notice that deliveries were queued (shared/webhook-notices.ts): `<tenant id> <writer>`, the
   * writer being the connection's application name, or the edge's own notices' `EDGE_WRITER`. Those
   * `ownWriter` wrote woke this worker already. Another host's wake its own worker, which claims them: here
   * they only stir the tenant's endpoints held here. Anyone else's (the edge's) woke no one: claimed here.
   */
  heard(payload: string, ownWriter: string) {
    const space = payload.indexOf(' ');
    const tenantId = space === -1 ? payload : payload.slice(0, space);
    const writer = space === -1 ? '' : payload.slice(space + 1);
    if (writer === ownWriter) return;
    this.wake(tenantId, !writer.startsWith(HOST_CONNECTION_PREFIX));
  }

  /**
   * PostgreSQL's notice that `tenantId`'s endpoints changed (shared/webhook-notices.ts): one added, removed,
   * turned on or off, or given a new URL or secret. The ones held here count them again (otherwise a wake
   * for the tenant's next event would skip the claim a new endpoint needs), and stop waiting: the next
   * look of one that changed gives it back, to be claimed afresh. And one claim follows whatever changed:
   * an endpoint turned on again, or moved, has deliveries due now, and no event wakes anyone for them.
   */
  async endpointsChanged(tenantId: string) {
    if (this.holdsAnyOf(tenantId)) {
      try {
        this.countFor(tenantId, await enabledEndpointsOf(this.options.db, tenantId));
      } catch (err) {
        this.options.logger.warn({ err }, 'webhook worker: counting endpoints failed');
      }
      for (const held of this.held.values()) {
        if (held.tenantId !== tenantId) continue;
        held.changed = true;
        held.nudge?.();
      }
    }
    this.askForClaim();
  }

  private holdsAnyOf(tenantId: string) {
    for (const held of this.held.values()) if (held.tenantId === tenantId) return true;
    return false;
  }

  /** Sets the tenant's endpoint count on every one of its endpoints held here. */
  private countFor(tenantId: string, count: number) {
    for (const held of this.held.values()) if (held.tenantId === tenantId) held.tenantEndpoints = count;
  }

  private askForClaim() {
    this.wakes += 1;
    this.wakeUp?.();
  }

  /** Stops claiming; deliveries under way finish (each is bounded by its timeout), leases are given back. */
  async stop() {
    this.running = false;
    this.wake();
    await this.loop;
    while (this.works.size > 0) await Promise.all(this.works);
  }

  /** Claims endpoints with something due into the free slots, whenever woken, a slot frees up, or a poll. */
  private async run() {
    let lastEmptyClaim = Number.NEGATIVE_INFINITY;
    while (this.running) {
      const wakes = this.wakes;
      const free = CONCURRENT_ENDPOINTS - this.working;
      this.backlog = free === 0;
      if (free > 0) {
        // A burst's wakes ask for a claim each: after one that found nothing, they wait a moment together.
        const gap = lastEmptyClaim + CLAIM_GAP_MS - performance.now();
        if (gap > 0) await new Promise((resolve) => setTimeout(resolve, gap));
        if (!this.running) break;
        this.working += free;
        let claimed: ClaimedEndpoint[] = [];
        try {
          claimed = await claimEndpoints(this.options.db, this.options.owner, LEASE_MS, free);
        } catch (err) {
          this.options.logger.warn({ err }, 'webhook worker: a claim failed');
        }
        for (let i = claimed.length; i < free; i++) this.freeSlot();
        for (const endpoint of claimed) this.hold(endpoint);
        this.backlog = claimed.length === free;
        lastEmptyClaim = claimed.length === 0 ? performance.now() : Number.NEGATIVE_INFINITY;
      }
      // Claimed again at once only if an event was written since this claim began. Otherwise the next
      // wake, a freed slot (after a claim that filled them all) or the next poll.
      if (this.wakes === wakes && this.running) await this.idle();
    }
  }

  private idle() {
    return wakeable(this.options.pollMs ?? POLL_MS, (wake) => {
      this.wakeUp = wake;
    }).finally(() => {
      this.wakeUp = undefined;
    });
  }

  /** Works on a claimed endpoint, in a slot the claim took for it, until it is given back. */
  private hold(endpoint: ClaimedEndpoint) {
    // The claim counted the tenant's endpoints afresh: the others held here take its count too.
    this.countFor(endpoint.tenantId, endpoint.tenantEndpoints);
    const held: Held = {
      tenantId: endpoint.tenantId,
      tenantEndpoints: endpoint.tenantEndpoints,
      wakes: 0,
      looked: 0,
      slot: true,
    };
    this.held.set(endpoint.id, held);
    const work = this.work(endpoint, held)
      .catch((err: unknown) =>
        this.options.logger.warn({ err, webhookId: endpoint.id }, 'webhook worker: an endpoint failed'),
      )
      .finally(() => this.works.delete(work));
    this.works.add(work);
  }

  /** Back in a slot, once one is free (the waiting endpoints woken to work take them in turn). */
  private async enterSlot(held: Held) {
    if (held.slot) return;
    if (this.working < CONCURRENT_ENDPOINTS) this.working += 1;
    else await new Promise<void>((resolve) => this.slotQueue.push(resolve));
    held.slot = true;
  }

  private leaveSlot(held: Held) {
    if (!held.slot) return;
    held.slot = false;
    this.freeSlot();
  }

  private freeSlot() {
    const next = this.slotQueue.shift();
    if (next) return next();
    this.working -= 1;
    if (this.backlog) this.wakeUp?.();
  }

  /**
   * Caught up: out of its slot, still leased, the endpoint waits for its tenant's next event until `until`,
   * and looks at its queue each time one comes. What it finds due, back in a slot; nothing once the wait
   * is over (or the worker stops, or too many wait already).
   */
  private async waitForMore(endpoint: HeldEndpoint, held: Held, until: number): Promise<DueDelivery[]> {
    while (this.running && this.waiting < WAITING_ENDPOINTS && performance.now() < until) {
      if (held.changed) break; // the look that gives it back if it is no longer as claimed, now
      this.leaveSlot(held);
      if (!(await this.nudged(held, until)) || !this.running || held.changed) break;
      held.looked = held.wakes;
      const due = await dueDeliveries(this.options.db, endpoint, LOOK_AHEAD);
      if (due.length > 0) {
        await this.enterSlot(held);
        return due;
      }
    }
    held.changed = false;
    return [];
  }

  /** Whether a wake for its tenant came (since its last look) before `until`. */
  private nudged(held: Held, until: number): Promise<boolean> {
    if (held.wakes !== held.looked) return Promise.resolve(true);
    this.waiting += 1;
    return wakeable(Math.max(0, until - performance.now()), (wake) => {
      held.nudge = wake;
    }).finally(() => {
      held.nudge = undefined;
      this.waiting -= 1;
    });
  }

  /**
   * Delivers what is due to one endpoint, in order. Once caught up, it waits a moment for more, leased
   * (at a low rate that saves a claim and a release per event), then gives the endpoint back.
   */
  private async work(endpoint: ClaimedEndpoint, held: Held) {
    const { db, owner, logger } = this.options;
    // Well inside the lease, which is renewed only as deliveries go.
    const waitMs = Math.min(this.options.waitMs ?? POLL_MS, LEASE_MS / 4);
    const mine: HeldEndpoint = { ...endpoint, owner };
    let changed = false;
    const records = new DeliveredRecords(db, endpoint.id);
    try {
      const secrets = await this.secretsOf(endpoint);
      let failingSince = endpoint.failingSince;
      let leasedAt = this.now().getTime();
      const release = async (nextAttemptAt: NextAttempt) => {
        await records.settled();
        await releaseEndpoint(db, endpoint.id, owner, { nextAttemptAt, failingSince });
      };
      let upcoming: DueDelivery[] = [];
      /** The last look reached the end of the queue (and what it found went): the endpoint may be done. */
      let atEnd = false;
      /** Until when a caught-up endpoint waits for more (set once it catches up). */
      let waitUntil: number | undefined;
      while (this.running) {
        if (upcoming.length === 0) {
          await records.settled();
          if (atEnd) {
            waitUntil ??= performance.now() + waitMs;
            upcoming = await this.waitForMore(mine, held, waitUntil);
            if (!this.running) break;
          }
          if (upcoming.length === 0) {
            held.looked = held.wakes;
            if (atEnd) {
              // The look that may find nothing gives the endpoint back itself: one statement, not two.
              const look = await dueOrRelease(db, { ...mine, failingSince }, LOOK_AHEAD);
              if (look.released) {
                changed = look.changed;
                return;
              }
              upcoming = look.due;
            } else {
              upcoming = await dueDeliveries(db, mine, LOOK_AHEAD);
            }
            if (upcoming.length > 0) await this.enterSlot(held);
          }
          atEnd = upcoming.length < LOOK_AHEAD;
          if (upcoming.length > 0) waitUntil = undefined;
        }
        if (held.changed) {
          // What was looked up may be for an old URL or secret: the look that gives it back if so, first.
          upcoming = [];
          atEnd = true;
          continue;
        }
        const delivery = upcoming.shift();
        if (!delivery) return await release('now');
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
          logger.warn({ webhookId: endpoint.id, eventId: delivery.eventId }, 'webhook delivery given up');
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
              (await this.probe(mine, endpoint, delivery, secrets, records))
            ) {
              failingSince = null;
              continue;
            }
            return await release(outcome.nextAttemptAt);
          }
        }
        // Renewed only once half of it is gone: one write per delivery would double the worker's writes.
        if (this.now().getTime() - leasedAt >= LEASE_MS / 2) {
          leasedAt = this.now().getTime();
          if (!(await renewLease(db, endpoint.id, owner, LEASE_MS))) {
            return await records.settled();
          }
        }
      }
      await release('now');
    } finally {
      this.held.delete(endpoint.id);
      this.leaveSlot(held);
      // Given back, what came since its last look, or what it did not deliver as it was changed, is
      // claimed now.
      if (held.wakes !== held.looked || changed) this.askForClaim();
    }
  }

  /**
   * The head has failed again: try the one behind it. If that goes through, the endpoint is up and the
   * head alone fails: it is set aside to retry on its own, and the rest flows in order. If not, the
   * endpoint is down: everything waits, in order.
   */
  private async probe(
    mine: HeldEndpoint,
    endpoint: ClaimedEndpoint,
    head: DueDelivery,
    secrets: string[],
    records: DeliveredRecords,
  ): Promise<boolean> {
    const next = await deliveryAfter(this.options.db, mine, head.eventSeq);
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

// The webhook worker against real HTTP receivers: signed deliveries a Standard Webhooks verifier accepts,
// in event order, retried while the receiver is down and all delivered once it is back, a bad delivery
// set aside instead of holding the rest, no redirects, timeouts, 410 disabling the endpoint.
import { createHmac, randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import { pino } from 'pino';
import { Webhook } from 'standardwebhooks';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { cancelUnsent, queueMessage } from '../../../edge/outbox/queries.js';
import { updateEndpoint } from '../../../edge/webhooks/queries/endpoints.js';
import { closeDb, createDb, createListener, hostConnectionName } from '../../../node-runtime/db/connect.js';
import { WebhookPoster } from '../../../node-runtime/webhooks/http.js';
import { hearWebhookNotices } from '../../../node-runtime/webhooks/notices.js';
import {
  claimEndpoints,
  dueDeliveries,
  dueOrRelease,
  recordAttempt,
  releaseEndpoint,
} from '../../../node-runtime/webhooks/queue.js';
import type { RetryPolicy } from '../../../node-runtime/webhooks/schedule.js';
import { WebhookWorker, type WorkerOptions } from '../../../node-runtime/webhooks/worker.js';
import { insertEvent } from '../../../shared/event-log.js';
import { ENDPOINTS_CHANNEL, WEBHOOK_CHANNEL } from '../../../shared/webhook-notices.js';
import {
  generateSecretKey,
  generateWebhookSecret,
  parseSecretKey,
  SecretBox,
} from '../../../shared/webhook-secrets.js';
import {
  countingStatements,
  insertTenantSession,
  openTransaction,
  useTestDatabase,
} from '../../helpers/postgres.js';
import { startReceiver } from '../../helpers/webhook-receiver.js';
import { eventually } from '../../wa-sim/fixtures.js';

const database = useTestDatabase();
const box = new SecretBox(parseSecretKey(generateSecretKey()));
const FAST: RetryPolicy = {
  delaysMs: [50, 100, 200],
  jitter: 0,
  giveUpAfterMs: 60_000,
  disableAfterMs: 120_000,
  probeAfterFailures: 3,
};

let tenantId: string;
let sessionId: string;
const workers: WebhookWorker[] = [];
const closers: (() => Promise<void>)[] = [];

const startWorker = (
  policy: RetryPolicy = FAST,
  timeoutMs = 10_000,
  db = database().db,
  timing: Pick<WorkerOptions, 'pollMs' | 'waitMs' | 'now'> = {},
) => {
  const worker = new WebhookWorker({
    db,
    owner: `worker-${workers.length}`,
    secrets: box,
    poster: new WebhookPoster({ allowPrivate: true, timeoutMs }),
    logger: pino({ level: 'silent' }),
    policy,
    ...timing,
  });
  worker.start();
  workers.push(worker);
  return worker;
};

const endpoint = async (url: string, filter: { events?: string[] } = {}) => {
  const secret = generateWebhookSecret();
  const row = await database()
    .db.insertInto('webhook_endpoints')
    .values({ tenant_id: tenantId, url, secret: await box.seal(secret), event_types: filter.events ?? null })
    .returning('id')
    .executeTakeFirstOrThrow();
  return { id: row.id, secret };
};

const qrEvent = async (n: number) =>
  (
    await insertEvent(database().db, { tenantId, sessionId, sessionName: 's' }, 'session.qr', {
      sessionId: 's',
      qr: `qr-${n}`,
    })
  ).id;

const attemptsOf = (endpointId: string) =>
  database()
    .db.selectFrom('webhook_attempts')
    .selectAll()
    .where('endpoint_id', '=', endpointId)
    .orderBy('id')
    .execute();

/** A listener on the test database, closed after the test. */
const listenerFor = () => {
  const listener = createListener(database().url);
  closers.push(() => listener.close());
  return listener;
};

/** Wires `worker` to PostgreSQL's endpoint notices, as the host does; answers the notices heard. */
const hearEndpointChanges = async (worker: WebhookWorker) => {
  const listener = listenerFor();
  const notices: string[] = [];
  await listener.listen(ENDPOINTS_CHANNEL, (changed) => {
    notices.push(changed);
    void worker.endpointsChanged(changed);
  });
  return notices;
};

/**
 * Eight events for a slow endpoint (150 ms a delivery), worked by a worker that hears endpoint notices and
 * does not poll; resolves once all eight are looked up and the first is on its way.
 */
const flowing = async () => {
  const receiver = await startReceiver(() => ({ status: 200, delayMs: 150 }));
  closers.push(receiver.close);
  const { id } = await endpoint(receiver.url);
  const ids: string[] = [];
  for (let n = 0; n < 8; n++) ids.push(await qrEvent(n));
  const worker = startWorker(FAST, 10_000, database().db, { pollMs: 60_000 });
  await hearEndpointChanges(worker);
  await eventually(async () => receiver.received[0]);
  return { receiver, id, ids };
};

/** Endpoint `id` as a run of failures leaves it: its retry, and its deliveries', an hour away. */
const backingOff = async (id: string, endpointChanges: { enabled?: boolean } = {}) => {
  const { db } = database();
  const later = new Date(Date.now() + 3_600_000);
  await db
    .updateTable('webhook_endpoints')
    .set({ ...endpointChanges, next_attempt_at: later, failing_since: new Date(Date.now() - 60_000) })
    .where('id', '=', id)
    .execute();
  await db
    .updateTable('webhook_deliveries')
    .set({ next_attempt_at: later })
    .where('endpoint_id', '=', id)
    .execute();
};

beforeAll(async () => {
  ({ tenantId, sessionId } = await insertTenantSession(database().db, 't', 's'));
});
afterEach(async () => {
  for (const worker of workers.splice(0)) await worker.stop();
  for (const close of closers.splice(0)) await close();
  await database().db.deleteFrom('webhook_endpoints').execute();
});
afterAll(async () => {
  for (const worker of workers.splice(0)) await worker.stop();
});

describe('webhook deliveries', () => {
  it('are signed as Standard Webhooks say: the package and an independent HMAC both verify them', async () => {
    const receiver = await startReceiver();
    closers.push(receiver.close);
    const { secret } = await endpoint(receiver.url);
    startWorker();
    const eventId = await qrEvent(1);
    const got = await eventually(async () => receiver.received[0]);
    expect(got.id).toBe(eventId);
    const payload = JSON.parse(got.body) as Record<string, unknown>;
    expect(payload).toEqual({
      type: 'session.qr',
      timestamp: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
      data: { sessionId: 's', qr: 'qr-1' },
    });
    // The package customers use...
    expect(new Webhook(secret).verify(got.body, got.headers as Record<string, string>)).toEqual(payload);
    // ...and the spec by hand: HMAC-SHA256 over "id.timestamp.body" with the base64-decoded secret.
    const key = Buffer.from(secret.slice('whsec_'.length), 'base64');
    const expected = createHmac('sha256', key)
      .update(`${got.headers['webhook-id']}.${got.headers['webhook-timestamp']}.${got.body}`)
      .digest('base64');
    expect(got.headers['webhook-signature']).toBe(`v1,${expected}`);
    // A tampered body fails.
    expect(() => new Webhook(secret).verify(`${got.body} `, got.headers as Record<string, string>)).toThrow();
  });

  it('go out in event order, each once', async () => {
    const receiver = await startReceiver();
    closers.push(receiver.close);
    await endpoint(receiver.url);
    startWorker();
    const ids: string[] = [];
    for (let n = 0; n < 30; n++) ids.push(await qrEvent(n));
    await eventually(async () => (receiver.received.length >= 30 ? true : undefined));
    await new Promise((r) => setTimeout(r, 300));
    expect(receiver.received.map((r) => r.id)).toEqual(ids);
  });

  it('a backlog goes out in order with a look-up per batch of deliveries, not one per delivery', async () => {
    const receiver = await startReceiver();
    closers.push(receiver.close);
    await endpoint(receiver.url);
    const ids: string[] = [];
    for (let n = 0; n < 40; n++) ids.push(await qrEvent(n)); // queued before the worker starts
    const { counted, count: lookUps } = countingStatements(
      database().db,
      (node) => node.kind === 'SelectQueryNode' && JSON.stringify(node.from).includes('"webhook_deliveries"'),
    );
    startWorker(FAST, 10_000, counted);
    await eventually(async () => (receiver.received.length >= 40 ? true : undefined));
    await new Promise((r) => setTimeout(r, 300));
    expect(receiver.received.map((r) => r.id)).toEqual(ids);
    // 40 deliveries: two look-ups of 32 and 8, and one finding nothing.
    expect(lookUps()).toBeLessThanOrEqual(6);
  });

  it("the next delivery goes while the last one's record waits; the records that queued go in one statement", async () => {
    const receiver = await startReceiver();
    closers.push(receiver.close);
    const { id } = await endpoint(receiver.url);
    const ids: string[] = [];
    for (let n = 0; n < 6; n++) ids.push(await qrEvent(n));
    const first = await database()
      .db.selectFrom('webhook_deliveries')
      .select('id')
      .where('endpoint_id', '=', id)
      .orderBy('event_seq')
      .executeTakeFirstOrThrow();
    const { counted, count: recordStatements } = countingStatements(database().db, (node) =>
      JSON.stringify(node).includes('insert into webhook_attempts'),
    );
    // The first delivery's row is locked elsewhere: its record cannot be written until the lock goes.
    await database()
      .db.transaction()
      .execute(async (trx) => {
        await sql`select 1 from webhook_deliveries where id = ${first.id} for update`.execute(trx);
        startWorker(FAST, 10_000, counted);
        await eventually(async () => (receiver.received.length >= 6 ? true : undefined));
        expect(await attemptsOf(id)).toEqual([]);
      });
    const log = await eventually(async () => {
      const attempts = await attemptsOf(id);
      return attempts.length === 6 ? attempts : undefined;
    });
    expect(receiver.received.map((r) => r.id)).toEqual(ids);
    expect(log.map((a) => [a.seq, a.event_id, a.outcome])).toEqual(
      ids.map((eventId, i) => [String(i + 1), eventId, 'delivered']),
    );
    // The first record alone, then the five that queued behind it together.
    expect(recordStatements()).toBe(2);
    const rows = await database()
      .db.selectFrom('webhook_deliveries')
      .select(['status', 'attempts'])
      .where('endpoint_id', '=', id)
      .execute();
    expect(rows).toEqual(ids.map(() => ({ status: 'delivered', attempts: 1 })));
  });

  it('one delivery at rest costs four statements: the claim, a look, its record and, after a wait for more, a look that gives the endpoint back', async () => {
    const receiver = await startReceiver();
    closers.push(receiver.close);
    const { id } = await endpoint(receiver.url);
    const eventId = await qrEvent(1);
    const { counted, count } = countingStatements(database().db);
    // No polls: whatever the worker does after the delivery, it does on its own.
    startWorker(FAST, 10_000, counted, { pollMs: 60_000 });
    await eventually(async () => receiver.received[0]);
    await eventually(async () => {
      const row = await database()
        .db.selectFrom('webhook_endpoints')
        .select('lease_owner')
        .where('id', '=', id)
        .executeTakeFirstOrThrow();
      return row.lease_owner === null ? true : undefined;
    });
    await new Promise((r) => setTimeout(r, 300));
    expect(receiver.received.map((r) => r.id)).toEqual([eventId]);
    // Freeing the leases of an earlier run, then the four; before, a look that found nothing, the endpoint
    // given back and a claim that found nothing followed the record.
    expect(count()).toBe(5);
    const [attempt] = await attemptsOf(id);
    expect(attempt?.outcome).toBe('delivered');
  });

  it('an event written while the worker claims goes at once, not at the next poll', async () => {
    const receiver = await startReceiver();
    closers.push(receiver.close);
    await endpoint(receiver.url);
    let worker: WebhookWorker | undefined;
    let armed = false;
    let written: string | undefined;
    const claims = new Set<string>();
    // The event commits, and the worker is woken, after the claim's statement ran and before it answers.
    const db = database().db.withPlugin({
      transformQuery: ({ node, queryId }) => {
        if (JSON.stringify(node).includes('SKIP LOCKED')) claims.add(queryId.queryId);
        return node;
      },
      transformResult: async ({ result, queryId }) => {
        if (armed && claims.has(queryId.queryId)) {
          armed = false;
          written = await qrEvent(1);
          worker?.wake();
        }
        return result;
      },
    });
    worker = startWorker(FAST, 10_000, db, { pollMs: 60_000 });
    await eventually(async () => (claims.size > 0 ? true : undefined));
    await new Promise((r) => setTimeout(r, 100)); // idle now, until woken
    armed = true;
    worker.wake();
    const got = await eventually(async () => receiver.received[0], 5_000);
    expect(got.id).toBe(written);
  });

  it("a caught-up endpoint waits, leased, for its tenant's next event: each costs a look and its record, no claim or release", async () => {
    const receiver = await startReceiver();
    closers.push(receiver.close);
    const { id } = await endpoint(receiver.url);
    const { counted: db, count: statements } = countingStatements(database().db);
    const { counted, count: claims } = countingStatements(db, (node) =>
      JSON.stringify(node).includes('SKIP LOCKED'),
    );
    const worker = startWorker(FAST, 10_000, counted, { pollMs: 60_000, waitMs: 5_000 });
    const recorded = (n: number) =>
      eventually(async () => ((await attemptsOf(id)).length === n ? true : undefined));
    // As the host does: the event's commit wakes the worker, for its tenant.
    const delivered = async (n: number) => {
      const eventId = await qrEvent(n);
      worker.wake(tenantId);
      await eventually(async () => receiver.received.find((r) => r.id === eventId));
      return eventId;
    };
    const ids = [await delivered(0)];
    await recorded(1);
    const before = { statements: statements(), claims: claims() };
    for (let n = 1; n <= 5; n++) ids.push(await delivered(n));
    await recorded(6);
    expect(receiver.received.map((r) => r.id)).toEqual(ids);
    // Before, each event also cost a claim and a look that gave the endpoint back: four statements.
    expect(statements() - before.statements).toBe(5 * 2);
    expect(claims() - before.claims).toBe(0);
    const leaseOf = async () =>
      (
        await database()
          .db.selectFrom('webhook_endpoints')
          .select('lease_owner')
          .where('id', '=', id)
          .executeTakeFirstOrThrow()
      ).lease_owner;
    expect(await leaseOf()).not.toBeNull();
    // A wake for another tenant does not stir it: one claim, for that tenant's endpoints, and no look.
    const mark = statements();
    worker.wake(randomUUID());
    await eventually(async () => (claims() > before.claims ? true : undefined));
    await new Promise((r) => setTimeout(r, 100));
    expect(statements() - mark).toBe(1);
    // Stopping gives it back.
    await worker.stop();
    expect(await leaseOf()).toBeNull();
  });

  it('an endpoint changed while it waits is read afresh: the next event goes to its new URL, signed with its new secret', async () => {
    const before = await startReceiver();
    const after = await startReceiver();
    closers.push(before.close, after.close);
    const { id } = await endpoint(before.url);
    const worker = startWorker(FAST, 10_000, database().db, { pollMs: 60_000, waitMs: 500 });
    const first = await qrEvent(0);
    worker.wake(tenantId);
    await eventually(async () => before.received[0]);
    const secret = generateWebhookSecret();
    await database()
      .db.updateTable('webhook_endpoints')
      .set({ url: after.url, secret: await box.seal(secret) })
      .where('id', '=', id)
      .execute();
    const second = await qrEvent(1);
    worker.wake(tenantId);
    const got = await eventually(async () => after.received[0], 5_000);
    expect(got.id).toBe(second);
    expect(new Webhook(secret).verify(got.body, got.headers as Record<string, string>)).toBeTruthy();
    await new Promise((r) => setTimeout(r, 100));
    expect(before.received.map((r) => r.id)).toEqual([first]);
  });

  it('an endpoint given a new secret while it waits is given back at once: the next event is signed with it, without waiting out the wait', async () => {
    const receiver = await startReceiver();
    closers.push(receiver.close);
    const { id } = await endpoint(receiver.url);
    const waitMs = 5_000;
    const worker = startWorker(FAST, 10_000, database().db, { pollMs: 60_000, waitMs });
    const notices = await hearEndpointChanges(worker);
    await qrEvent(0);
    worker.wake(tenantId);
    await eventually(async () => receiver.received[0]);
    // Caught up, it waits for the tenant's next event. The secret is rotated meanwhile (as rotate-secret).
    const secret = generateWebhookSecret();
    await database()
      .db.transaction()
      .execute(async (trx) => updateEndpoint(trx, id, { secret: await box.seal(secret) }));
    await new Promise((r) => setTimeout(r, 200)); // the notice, and the look that gives it back
    const written = Date.now();
    const next = await qrEvent(1);
    worker.wake(tenantId);
    const got = await eventually(async () => receiver.received[1]);
    expect(got.id).toBe(next);
    expect(new Webhook(secret).verify(got.body, got.headers as Record<string, string>)).toBeTruthy();
    expect(got.at - written).toBeLessThan(waitMs / 2); // not once the wait ran out
    expect(notices).toEqual([tenantId]);
  });

  it('an endpoint given a new URL while its deliveries flow sends the next ones there, not what it looked up for the old one', async () => {
    const moved = await startReceiver();
    closers.push(moved.close);
    const { receiver: old, id, ids } = await flowing();
    await database()
      .db.transaction()
      .execute((trx) => updateEndpoint(trx, id, { url: moved.url, resumeNow: true }));
    await eventually(async () => {
      const seen = new Set([...old.received, ...moved.received].map((r) => r.id));
      return seen.size === ids.length ? true : undefined;
    });
    // The one in flight at the change (and at most one more) went to the old URL; the rest to the new, in order.
    expect(old.received.length).toBeLessThanOrEqual(2);
    const sentOld = old.received.map((r) => r.id);
    expect(sentOld).toEqual(ids.slice(0, sentOld.length));
    expect(moved.received.map((r) => r.id).filter((x) => !sentOld.includes(x))).toEqual(
      ids.slice(sentOld.length),
    );
  });

  it('an endpoint disabled while its deliveries flow stops before the next one; turned on again, the rest go in order', async () => {
    const { receiver, id, ids } = await flowing();
    const turn = (enabled: boolean) =>
      database()
        .db.transaction()
        .execute((trx) =>
          updateEndpoint(
            trx,
            id,
            enabled
              ? { enabled, disabled_reason: null, resumeNow: true }
              : { enabled, disabled_reason: 'admin' },
          ),
        );
    await turn(false);
    await new Promise((r) => setTimeout(r, 1_000));
    const before = receiver.received.map((r) => r.id);
    expect(before.length).toBeLessThanOrEqual(2); // the one in flight at the change, at most one more
    await turn(true);
    await eventually(async () =>
      new Set(receiver.received.map((r) => r.id)).size === ids.length ? true : undefined,
    );
    const firstSeen = receiver.received.map((r) => r.id).filter((x, i, all) => all.indexOf(x) === i);
    expect(firstSeen).toEqual(ids);
  });

  it("an endpoint waiting here hears another host's event from PostgreSQL, at once", async () => {
    const receiver = await startReceiver();
    closers.push(receiver.close);
    await endpoint(receiver.url);
    const waitMs = 5_000;
    const worker = startWorker(FAST, 10_000, database().db, { pollMs: 60_000, waitMs });
    const listener = createListener(database().url);
    closers.push(() => listener.close());
    await listener.listen(WEBHOOK_CHANNEL, (payload) => worker.heard(payload, hostConnectionName('here')));
    const first = await qrEvent(0);
    worker.wake(tenantId);
    await eventually(async () => receiver.received[0]);
    // Another host writes the next event and wakes its own worker, not this one.
    const elsewhere = createDb(database().url, { max: 1, applicationName: hostConnectionName('elsewhere') });
    closers.push(() => closeDb(elsewhere));
    const written = Date.now();
    const { id: second } = await insertEvent(
      elsewhere,
      { tenantId, sessionId, sessionName: 's' },
      'session.qr',
      {
        sessionId: 's',
        qr: 'qr-elsewhere',
      },
    );
    const got = await eventually(async () => receiver.received[1]);
    expect(receiver.received.map((r) => r.id)).toEqual([first, second]);
    // Not at the end of the wait, when the endpoint would have looked once more before giving itself back.
    expect(got.at - written).toBeLessThan(waitMs / 2);
  });

  it("an endpoint added while the tenant's only other one waits here gets the next event at once", async () => {
    const first = await startReceiver();
    const added = await startReceiver();
    closers.push(first.close, added.close);
    await endpoint(first.url);
    const waitMs = 5_000;
    const worker = startWorker(FAST, 10_000, database().db, { pollMs: 60_000, waitMs });
    const notices = await hearEndpointChanges(worker);
    const before = await qrEvent(0);
    worker.wake(tenantId);
    await eventually(async () => first.received[0]);
    // Held and caught up, the first endpoint waits: the worker counted one endpoint for the tenant.
    await endpoint(added.url);
    await new Promise((r) => setTimeout(r, 200)); // the notice and the count
    const written = Date.now();
    const next = await qrEvent(1);
    worker.wake(tenantId); // as the journal does once the event is written
    const got = await eventually(async () => added.received[0], 10_000);
    expect(got.id).toBe(next);
    // Claimed at the wake, not once the first endpoint gave itself back at the end of its wait.
    expect(got.at - written).toBeLessThan(waitMs / 2);
    await eventually(async () => first.received[1]);
    expect(first.received.map((r) => r.id)).toEqual([before, next]);
    // The endpoint added said so; the worker's own writes to endpoints (leases, releases) did not.
    expect(notices).toEqual([tenantId]);
  });

  it('an endpoint turned on again gets what waited for it at once, though no event wakes anyone', async () => {
    const receiver = await startReceiver();
    closers.push(receiver.close);
    const { id } = await endpoint(receiver.url);
    const waited = await qrEvent(0);
    await backingOff(id, { enabled: false }); // as the worker leaves one it disabled
    const worker = startWorker(FAST, 10_000, database().db, { pollMs: 60_000 });
    const notices = await hearEndpointChanges(worker);
    await new Promise((r) => setTimeout(r, 300)); // the worker's first claim finds nothing to take
    expect(receiver.received).toEqual([]);
    // As PATCH {enabled: true} does (edge/webhooks/lifecycle.ts): one transaction, one notice on commit.
    const turnedOn = Date.now();
    await database()
      .db.transaction()
      .execute((trx) =>
        updateEndpoint(trx, id, {
          enabled: true,
          disabled_reason: null,
          failing_since: null,
          resumeNow: true,
        }),
      );
    const got = await eventually(async () => receiver.received[0]);
    expect(got.id).toBe(waited);
    expect(got.at - turnedOn).toBeLessThan(5_000); // not at the next poll, a minute away
    expect(notices).toEqual([tenantId]);
  });

  it('an endpoint given a new URL gets the retries that waited for the old one there, at once', async () => {
    const old = await startReceiver();
    const moved = await startReceiver();
    closers.push(old.close, moved.close);
    const { id } = await endpoint(old.url);
    const waited = await qrEvent(0);
    await backingOff(id);
    const worker = startWorker(FAST, 10_000, database().db, { pollMs: 60_000 });
    const notices = await hearEndpointChanges(worker);
    await new Promise((r) => setTimeout(r, 300));
    const movedAt = Date.now();
    await database()
      .db.transaction()
      .execute((trx) => updateEndpoint(trx, id, { url: moved.url, failing_since: null, resumeNow: true }));
    const got = await eventually(async () => moved.received[0]);
    expect(got.id).toBe(waited);
    expect(got.at - movedAt).toBeLessThan(5_000);
    expect(old.received).toEqual([]);
    expect(notices).toEqual([tenantId]);
  });

  it("a message cancelled by an edge in the host's process (npm start) is told at once, though its connection is the host's", async () => {
    const receiver = await startReceiver();
    closers.push(receiver.close);
    await endpoint(receiver.url, { events: ['message.status'] });
    const here = hostConnectionName('here');
    const worker = startWorker(FAST, 10_000, database().db, { pollMs: 60_000 });
    await hearWebhookNotices(worker, listenerFor(), here);
    // The edge shares the host's pool, named as the host: the fan-out's own notice is skipped as the host's.
    const shared = createDb(database().url, { max: 1, applicationName: here });
    closers.push(() => closeDb(shared));
    const sender = { tenantId, sessionId, sessionName: 's' };
    const queued = await queueMessage(
      shared,
      sender,
      { to: '628123@s.whatsapp.net', text: 'x', leaseMs: 0 },
      new Date(),
    );
    if (!('id' in queued)) throw new Error('not queued');
    const { id } = queued;
    await new Promise((r) => setTimeout(r, 300)); // the worker's first claim has come and gone
    const cancelledAt = Date.now();
    expect(await cancelUnsent(shared, sender, id, 'cancelled', new Date())).toBeDefined();
    const got = await eventually(async () => receiver.received[0]);
    expect(JSON.parse(got.body)).toMatchObject({ type: 'message.status', data: { id, status: 'cancelled' } });
    expect(got.at - cancelledAt).toBeLessThan(5_000); // not at the next poll, a minute away
  });

  it('endpoints waiting for more hold no slot: a ninth is worked on while eight wait', async () => {
    const receivers = await Promise.all(Array.from({ length: 9 }, () => startReceiver()));
    for (const receiver of receivers) closers.push(receiver.close);
    const ids: string[] = [];
    for (const receiver of receivers) ids.push((await endpoint(receiver.url)).id);
    const eventId = await qrEvent(0); // for every endpoint: eight are claimed at once, at most
    startWorker(FAST, 10_000, database().db, { pollMs: 60_000, waitMs: 5_000 });
    await eventually(async () =>
      receivers.every((r) => r.received.length === 1 && r.received[0]?.id === eventId) ? true : undefined,
    );
    // The ninth went while the eight before it still waited, leased, for more.
    const leased = await database()
      .db.selectFrom('webhook_endpoints')
      .select('lease_owner')
      .where('id', 'in', ids)
      .execute();
    expect(leased.map((row) => row.lease_owner !== null)).toEqual(ids.map(() => true));
  });

  it('records that cannot be written lose nothing: those deliveries go again once the endpoint is taken again', async () => {
    const { db } = database();
    const receiver = await startReceiver();
    closers.push(receiver.close);
    const { id } = await endpoint(receiver.url);
    await sql`create or replace function refuse_attempt_log() returns trigger language plpgsql as $$
      begin raise exception 'the attempt log is read-only today'; end $$`.execute(db);
    await sql`create trigger refuse_attempt_log before insert on webhook_attempts
      for each row execute function refuse_attempt_log()`.execute(db);
    const ids: string[] = [];
    try {
      for (let n = 0; n < 3; n++) ids.push(await qrEvent(n));
      startWorker();
      await eventually(async () => (receiver.received.length >= 1 ? true : undefined));
      await new Promise((r) => setTimeout(r, 300));
    } finally {
      await sql`drop trigger refuse_attempt_log on webhook_attempts`.execute(db);
    }
    const tried = receiver.received.length;
    expect(tried).toBeLessThanOrEqual(ids.length); // nothing went twice while its record failed
    expect(await attemptsOf(id)).toEqual([]);
    // The worker's lease on the endpoint runs out (as if its 30 s had passed): the next round takes it.
    await db
      .updateTable('webhook_endpoints')
      .set({ lease_until: new Date(0) })
      .where('id', '=', id)
      .execute();
    const log = await eventually(async () => {
      const attempts = await attemptsOf(id);
      return attempts.length === ids.length ? attempts : undefined;
    });
    expect(log.map((a) => a.event_id)).toEqual(ids);
    // Every event arrived, first in order; those whose records were lost came again, under the same id.
    const firstSeen = receiver.received.map((r) => r.id).filter((x, i, all) => all.indexOf(x) === i);
    expect(firstSeen).toEqual(ids);
    expect(receiver.received.length).toBeGreaterThan(tried);
  });

  it('a receiver that is down for a while gets everything, in order, once it is back; the log shows each attempt', async () => {
    let down = true;
    const receiver = await startReceiver(() => (down ? 503 : 200));
    closers.push(receiver.close);
    const { id } = await endpoint(receiver.url);
    startWorker({ ...FAST, delaysMs: [100], probeAfterFailures: 1000 });
    const ids: string[] = [];
    for (let n = 0; n < 10; n++) ids.push(await qrEvent(n));
    await eventually(async () => (receiver.received.length >= 4 ? true : undefined));
    // Only the oldest was tried while down: order holds.
    expect(new Set(receiver.received.map((r) => r.id))).toEqual(new Set([ids[0]]));
    down = false;
    await eventually(async () =>
      receiver.received.filter((r) => r.id !== ids[0]).length >= 9 ? true : undefined,
    );
    const delivered = receiver.received.slice(receiver.received.findLastIndex((r) => r.id === ids[0]));
    expect(delivered.map((r) => r.id)).toEqual(ids);
    // The worker writes each attempt once the receiver has answered.
    const log = await eventually(async () => {
      const attempts = await attemptsOf(id);
      return attempts.filter((a) => a.outcome === 'delivered').length === 10 ? attempts : undefined;
    });
    expect(
      log.filter((a) => a.outcome === 'failed' && (a.status_code !== 503 || !a.next_attempt_at)),
    ).toEqual([]);
    expect(log.map((a) => a.seq)).toEqual(log.map((_, i) => String(i + 1)));
  });

  it('one delivery the receiver keeps refusing is set aside; the others flow', async () => {
    const receiver = await startReceiver((r) => (r.body.includes('qr-poison') ? 500 : 200));
    closers.push(receiver.close);
    const { id } = await endpoint(receiver.url);
    startWorker();
    const { id: poison } = await insertEvent(
      database().db,
      { tenantId, sessionId, sessionName: 's' },
      'session.qr',
      {
        sessionId: 's',
        qr: 'qr-poison',
      },
    );
    const later = [await qrEvent(1), await qrEvent(2)];
    await eventually(async () =>
      later.every((e) => receiver.received.some((r) => r.id === e)) ? true : undefined,
    );
    const row = await database()
      .db.selectFrom('webhook_deliveries')
      .selectAll()
      .where('endpoint_id', '=', id)
      .where('event_id', '=', poison)
      .executeTakeFirstOrThrow();
    expect(row).toMatchObject({ status: 'pending', parked: true });
    expect(row.attempts).toBeGreaterThanOrEqual(3);
  });

  it('redirects are not followed, slow receivers time out, unreachable ones are retried', async () => {
    const redirecting = await startReceiver(() => 302);
    const slow = await startReceiver(() => 'hang');
    closers.push(redirecting.close, slow.close);
    const a = await endpoint(redirecting.url);
    const b = await endpoint(slow.url);
    const c = await endpoint('http://127.0.0.1:1/nothing-listens');
    startWorker({ ...FAST, probeAfterFailures: 1000 }, 300);
    await qrEvent(1);
    await eventually(async () => {
      const logs = await Promise.all([a, b, c].map((e) => attemptsOf(e.id)));
      return logs.every((l) => l.length >= 2) ? logs : undefined;
    });
    const [ra, rb, rc] = await Promise.all([a, b, c].map((e) => attemptsOf(e.id)));
    expect(ra?.[0]).toMatchObject({ outcome: 'failed', status_code: 302 });
    expect(ra?.[0]?.error).toMatch(/redirect.*not followed/);
    expect(redirecting.received.length).toBeGreaterThanOrEqual(2); // retried, never went elsewhere
    expect(rb?.[0]).toMatchObject({
      outcome: 'failed',
      status_code: null,
      error: 'no answer within the timeout',
    });
    expect(rc?.[0]?.error).toMatch(/ECONNREFUSED/);
  });

  it('410 Gone disables the endpoint and says so in a webhook.disabled event', async () => {
    const gone = await startReceiver(() => 410);
    const other = await startReceiver();
    closers.push(gone.close, other.close);
    const { id } = await endpoint(gone.url, { events: ['session.qr'] });
    await endpoint(other.url, { events: ['webhook.disabled'] });
    startWorker();
    await qrEvent(1);
    const disabled = await eventually(async () => other.received.find((r) => r.type === 'webhook.disabled'));
    expect(JSON.parse(disabled.body).data).toEqual({
      webhookId: id,
      url: gone.url,
      reason: 'the endpoint answered 410 Gone',
    });
    const row = await database()
      .db.selectFrom('webhook_endpoints')
      .select(['enabled', 'disabled_reason'])
      .where('id', '=', id)
      .executeTakeFirstOrThrow();
    expect(row).toEqual({ enabled: false, disabled_reason: 'the endpoint answered 410 Gone' });
    await qrEvent(2);
    await new Promise((r) => setTimeout(r, 500));
    expect(gone.received).toHaveLength(1);
  });

  it('a delivery failing past the give-up time is dead; an endpoint failing past the disable time is disabled', async () => {
    const receiver = await startReceiver(() => 500);
    closers.push(receiver.close);
    const { id } = await endpoint(receiver.url);
    startWorker({
      ...FAST,
      delaysMs: [50],
      giveUpAfterMs: 300,
      disableAfterMs: 800,
      probeAfterFailures: 1000,
    });
    const first = await qrEvent(1);
    await qrEvent(2);
    const dead = await eventually(async () => {
      const row = await database()
        .db.selectFrom('webhook_deliveries')
        .select('status')
        .where('event_id', '=', first)
        .executeTakeFirst();
      return row?.status === 'dead' ? row : undefined;
    });
    expect(dead.status).toBe('dead');
    const endpointRow = await eventually(async () => {
      const row = await database()
        .db.selectFrom('webhook_endpoints')
        .select(['enabled', 'disabled_reason'])
        .where('id', '=', id)
        .executeTakeFirstOrThrow();
      return row.enabled ? undefined : row;
    });
    expect(endpointRow.disabled_reason).toMatch(/failed for/);
  });

  it('during a secret rotation, deliveries carry a signature by each secret', async () => {
    const receiver = await startReceiver();
    closers.push(receiver.close);
    const { id, secret: old } = await endpoint(receiver.url);
    const current = generateWebhookSecret();
    await database()
      .db.updateTable('webhook_endpoints')
      .set({
        secret: await box.seal(current),
        previous_secret: await box.seal(old),
        previous_until: new Date(Date.now() + 60_000),
      })
      .where('id', '=', id)
      .execute();
    startWorker();
    await qrEvent(1);
    const got = await eventually(async () => receiver.received[0]);
    expect(String(got.headers['webhook-signature']).split(' ')).toHaveLength(2);
    for (const secret of [old, current]) {
      expect(new Webhook(secret).verify(got.body, got.headers as Record<string, string>)).toBeTruthy();
    }
  });
});

describe('the delivery log', () => {
  /** A delivery of a new event to a new endpoint, as the worker finds it. */
  const dueDelivery = async () => {
    const { id: endpointId } = await endpoint('https://example.com/hook');
    const eventId = await qrEvent(9);
    const row = await database()
      .db.selectFrom('webhook_deliveries')
      .select(['id', 'event_seq'])
      .where('endpoint_id', '=', endpointId)
      .executeTakeFirstOrThrow();
    const delivery = {
      id: row.id,
      eventId,
      eventSeq: row.event_seq,
      attempts: 0,
      parked: false,
      firstAttemptAt: null,
      type: 'session.qr',
      data: {},
      createdAt: new Date(),
    };
    return { endpointId, delivery };
  };
  const attempt = (endpointId: string, delivery: Awaited<ReturnType<typeof dueDelivery>>['delivery']) => ({
    delivery,
    endpointId,
    at: new Date(),
    statusCode: 204,
    latencyMs: 3,
    error: null,
    outcome: 'delivered' as const,
    nextAttemptAt: null,
  });

  it('records an attempt and moves its delivery on in one statement', async () => {
    const { endpointId, delivery } = await dueDelivery();
    const statements: string[] = [];
    const counted = database().db.withPlugin({
      transformQuery: (args) => {
        statements.push(args.node.kind);
        return args.node;
      },
      transformResult: async (args) => args.result,
    });
    await recordAttempt(counted, attempt(endpointId, delivery));
    expect(statements).toHaveLength(1);
    expect(await attemptsOf(endpointId)).toMatchObject([
      { seq: '1', outcome: 'delivered', status_code: 204 },
    ]);
    const moved = await database()
      .db.selectFrom('webhook_deliveries')
      .select(['status', 'attempts'])
      .where('id', '=', delivery.id)
      .executeTakeFirstOrThrow();
    expect(moved).toEqual({ status: 'delivered', attempts: 1 });
  });

  it('writes no attempt when its delivery cannot be moved on', async () => {
    const { db } = database();
    const { endpointId, delivery } = await dueDelivery();
    await sql`create or replace function refuse_delivery_update() returns trigger language plpgsql as $$
      begin raise exception 'deliveries are read-only today'; end $$`.execute(db);
    await sql`create trigger refuse_delivery_update before update on webhook_deliveries
      for each row execute function refuse_delivery_update()`.execute(db);
    try {
      await expect(recordAttempt(db, attempt(endpointId, delivery))).rejects.toThrow(/read-only today/);
    } finally {
      await sql`drop trigger refuse_delivery_update on webhook_deliveries`.execute(db);
    }
    expect(await attemptsOf(endpointId)).toEqual([]);
  });
});

describe('giving an endpoint back', () => {
  it("sets its next claim to the given time or a set-aside delivery's, whichever is first", async () => {
    const { db } = database();
    const { id } = await endpoint('https://example.com/hook');
    await qrEvent(1);
    const lease = () =>
      db
        .updateTable('webhook_endpoints')
        .set({ lease_owner: 'me', lease_until: new Date(Date.now() + 30_000) })
        .where('id', '=', id)
        .execute();
    const row = () =>
      db
        .selectFrom('webhook_endpoints')
        .select(['next_attempt_at', 'lease_owner'])
        .where('id', '=', id)
        .executeTakeFirstOrThrow();
    const nextClaim = async () => (await row()).next_attempt_at.toISOString();
    const at = (s: string) => new Date(`2030-01-01T00:00:${s}Z`);
    const failingSince = null;

    // Nothing set aside: the time given.
    await lease();
    await releaseEndpoint(db, id, 'me', { nextAttemptAt: at('30'), failingSince });
    expect(await nextClaim()).toBe(at('30').toISOString());

    // A set-aside delivery due at :20: it comes first, unless the time given is earlier.
    await db
      .updateTable('webhook_deliveries')
      .set({ parked: true, next_attempt_at: at('20') })
      .where('endpoint_id', '=', id)
      .execute();
    await lease();
    await releaseEndpoint(db, id, 'me', { nextAttemptAt: at('30'), failingSince });
    expect(await nextClaim()).toBe(at('20').toISOString());
    await lease();
    await releaseEndpoint(db, id, 'me', { nextAttemptAt: at('10'), failingSince });
    expect(await nextClaim()).toBe(at('10').toISOString());

    // Only the lease holder gives it back.
    await lease();
    await releaseEndpoint(db, id, 'someone else', { nextAttemptAt: at('05'), failingSince });
    expect(await row()).toMatchObject({ next_attempt_at: at('10'), lease_owner: 'me' });
  });
});

describe('claiming an endpoint', () => {
  it("is not put off by an event being written for its tenant meanwhile (its deliveries' foreign key holds the endpoint's row only against a change of key)", async () => {
    const { db } = database();
    const { id } = await endpoint('https://example.com/hook');
    await qrEvent(1);
    const writing = await openTransaction(db, (trx) =>
      insertEvent(trx, { tenantId, sessionId, sessionName: 's' }, 'session.qr', {
        sessionId: 's',
        qr: 'qr-2',
      }),
    );
    try {
      expect((await claimEndpoints(db, 'me', 30_000, 8)).map((e) => e.id)).toEqual([id]);
    } finally {
      await writing.commit();
    }
  });
});

describe("the database's clock", () => {
  // PostgreSQL stamps each delivery; a host's clock has milliseconds, and on another machine it may run
  // behind or ahead: the queue goes by the database's clock, or a wake would miss what was just written.
  const hourMs = 3_600_000;
  const leaseLive = async (id: string) =>
    (
      await sql<{ live: boolean }>`select coalesce(lease_until > now(), false) as live
        from webhook_endpoints where id = ${id}`.execute(database().db)
    ).rows[0]?.live;

  it('decides what is due, and from when an endpoint given back may be claimed again', async () => {
    const { db } = database();
    const { id } = await endpoint('https://example.com/hook');
    await qrEvent(1);
    const claimed = await claimEndpoints(db, 'me', 30_000, 8);
    expect(claimed.map((e) => e.id)).toEqual([id]);
    expect(await leaseLive(id)).toBe(true);
    const held = { ...(claimed[0] as (typeof claimed)[number]), owner: 'me', failingSince: null };
    expect(await dueDeliveries(db, held, 32)).toHaveLength(1);
    const look = await dueOrRelease(db, held, 32);
    expect(look).toMatchObject({ released: false, changed: false });
    expect(look.due).toHaveLength(1);

    // Its retry an hour away: nothing is due, and the look gives the endpoint back, from now on.
    await sql`update webhook_deliveries set next_attempt_at = now() + interval '1 hour'
      where endpoint_id = ${id}`.execute(db);
    expect(await dueDeliveries(db, held, 32)).toEqual([]);
    expect(await dueOrRelease(db, held, 32)).toMatchObject({ due: [], released: true });
    const { rows } = await sql<{ now: boolean }>`select next_attempt_at <= now() as now
      from webhook_endpoints where id = ${id}`.execute(db);
    expect(rows).toEqual([{ now: true }]);
    expect(await claimEndpoints(db, 'other', 30_000, 8)).toEqual([]);
    await sql`update webhook_deliveries set next_attempt_at = now() where endpoint_id = ${id}`.execute(db);
    expect((await claimEndpoints(db, 'other', 30_000, 8)).map((e) => e.id)).toEqual([id]);
  });

  it('a worker whose clock runs an hour behind delivers a new event at once, under a lease that is live by the database', async () => {
    const receiver = await startReceiver();
    closers.push(receiver.close);
    const { id } = await endpoint(receiver.url);
    const worker = startWorker(FAST, 10_000, database().db, {
      pollMs: 60_000,
      waitMs: 5_000,
      now: () => new Date(Date.now() - hourMs),
    });
    const first = await qrEvent(0);
    worker.wake(tenantId);
    await eventually(async () => receiver.received.find((r) => r.id === first), 5_000);
    // Waiting for more, it holds the endpoint: no other host may take it meanwhile.
    expect(await leaseLive(id)).toBe(true);
  });

  it("a worker whose clock runs an hour ahead gives its endpoint back from now: another host's worker takes the next event at once", async () => {
    const receiver = await startReceiver();
    closers.push(receiver.close);
    await endpoint(receiver.url);
    const ahead = startWorker(FAST, 10_000, database().db, {
      pollMs: 60_000,
      now: () => new Date(Date.now() + hourMs),
    });
    const first = await qrEvent(0);
    ahead.wake(tenantId);
    await eventually(async () => receiver.received.find((r) => r.id === first), 5_000);
    await ahead.stop();
    const other = startWorker(FAST, 10_000, database().db, { pollMs: 60_000 });
    const second = await qrEvent(1);
    other.wake(tenantId);
    await eventually(async () => receiver.received.find((r) => r.id === second), 5_000);
    expect(receiver.received.map((r) => r.id)).toEqual([first, second]);
  });
});

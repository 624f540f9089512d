// The tenant admin's webhook endpoints: registered with a secret shown once and kept sealed, listed,
// changed, deleted, their secret rotated with an overlap, a test event for one endpoint, replays of what
// was asked and nothing else, the delivery log, and an audit entry for every change. The rows written
// are the ones the hosts' worker and the database's fan-out work from.
import { sql } from 'kysely';
import { beforeAll, describe, expect, it } from 'vitest';
import { recordAttempt } from '../../node-runtime/webhooks/queue.js';
import type { EventListResponseSchema } from '../../shared/events.js';
import type {
  DeliveryAttemptInfo,
  WebhookInfo,
  WebhookSecretResponse,
} from '../../shared/webhook-schemas.js';
import { parseSecretKey, SecretBox } from '../../shared/webhook-secrets.js';
import { auditLog, ok, read, TestClock } from './admin-helpers.js';
import {
  addEvent,
  PUBLIC_ADDRESS,
  sessionWithKey,
  statusEvent,
  type TestSession,
  webhookConfig,
} from './event-helpers.js';
import { useEdge } from './fixture.js';
import { call, expectError, type TestEdge } from './helpers.js';

const clock = new TestClock();
const webhooks = webhookConfig();
const box = new SecretBox(parseSecretKey(webhooks.secretKey));
const fx = useEdge({
  hosts: [],
  tenants: ['tenant', 'neighbour'],
  edge: { now: clock.now, webhooks, resolveHost: async () => [PUBLIC_ADDRESS] },
});
let edge: TestEdge;
let admin: string;
let tenantId: string;
let one: TestSession;
let two: TestSession;
/** Every secret the tests saw: none may show anywhere but in its one response. */
const secrets: string[] = [];

type EventPage = (typeof EventListResponseSchema)['_output'];

let urls = 0;
const nextUrl = () => `https://hooks.example.com/${++urls}`;

async function register(json: Record<string, unknown> = {}, key = admin): Promise<WebhookSecretResponse> {
  const body = await ok<WebhookSecretResponse>(
    edge,
    '/api/admin/webhooks',
    { key, json: { url: nextUrl(), ...json } },
    201,
  );
  secrets.push(body.secret);
  return body;
}

const endpointRow = (id: string) =>
  fx().db.selectFrom('webhook_endpoints').selectAll().where('id', '=', id).executeTakeFirstOrThrow();

const deliveriesOf = (endpointId: string) =>
  fx()
    .db.selectFrom('webhook_deliveries')
    .selectAll()
    .where('endpoint_id', '=', endpointId)
    .orderBy('event_seq')
    .execute();

const sessionOf = (s: TestSession) => ({ tenantId: s.tenantId, id: s.id, name: s.name });

beforeAll(async () => {
  ({ edge, admin, tenantId } = fx());
  one = await sessionWithKey(fx().db, tenantId, 'one');
  two = await sessionWithKey(fx().db, tenantId, 'two');
});

describe('POST /api/admin/webhooks', () => {
  it('registers an endpoint and shows its secret once; the database keeps it sealed', async () => {
    const created = await register({ url: 'https://Hooks.Example.COM:443/in?x=1', description: ' CRM ' });
    expect(created.secret).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);
    expect(created.webhook).toEqual({
      id: expect.any(String),
      url: 'https://hooks.example.com/in?x=1',
      description: 'CRM',
      events: null,
      sessionId: null,
      enabled: true,
      disabledReason: null,
      failingSince: null,
      nextAttemptAt: expect.any(String),
      pending: 0,
      createdAt: expect.any(String),
      updatedAt: expect.any(String),
    });
    const row = await endpointRow(created.webhook.id);
    const stored = Buffer.from(row.secret);
    const secretBytes = Buffer.from(created.secret.slice('whsec_'.length), 'base64');
    expect(stored.includes(secretBytes)).toBe(false);
    expect(stored.toString('latin1')).not.toContain(created.secret);
    expect(await box.open(row.secret)).toBe(created.secret);
    expect(row.previous_secret).toBeNull();

    const got = await ok<{ webhook: WebhookInfo }>(edge, `/api/admin/webhooks/${created.webhook.id}`, {
      key: admin,
    });
    expect(got).toEqual({ success: true, webhook: created.webhook });
    expect(JSON.stringify(got)).not.toContain('whsec_');
  });

  it('takes a session and event types, and the fan-out then delivers only those', async () => {
    const created = await register({ sessionId: 'one', events: ['message.status', 'session.status'] });
    expect(created.webhook).toMatchObject({ sessionId: 'one', events: ['message.status', 'session.status'] });
    const everything = await register();
    const wanted = await statusEvent(fx().db, sessionOf(one));
    await statusEvent(fx().db, sessionOf(two));
    await addEvent(fx().db, sessionOf(one), 'session.qr', { sessionId: 'one', qr: '2@x' });
    expect((await deliveriesOf(created.webhook.id)).map((d) => d.event_id)).toEqual([wanted]);
    expect(await deliveriesOf(everything.webhook.id)).toHaveLength(3);
    const listed = await ok<{ webhook: WebhookInfo }>(edge, `/api/admin/webhooks/${everything.webhook.id}`, {
      key: admin,
    });
    expect(listed.webhook.pending).toBe(3);
  });

  it('allows the same URL for another session, and in another tenant', async () => {
    const url = nextUrl();
    await register({ url });
    await register({ url, sessionId: 'one' });
    await register({ url, sessionId: 'two' });
    await register({ url }, fx().tenant('neighbour').admin);
  });
});

describe('GET /api/admin/webhooks', () => {
  it("lists the tenant's endpoints oldest first, page by page, and nothing of another tenant's", async () => {
    const neighbour = fx().tenant('neighbour').admin;
    const mine = await register({ description: 'mine' });
    const all: WebhookInfo[] = [];
    let cursor: string | null = null;
    do {
      const page: { webhooks: WebhookInfo[]; nextCursor: string | null } = await ok(
        edge,
        `/api/admin/webhooks?limit=2${cursor ? `&cursor=${cursor}` : ''}`,
        { key: admin },
      );
      expect(page.webhooks.length).toBeLessThanOrEqual(2);
      all.push(...page.webhooks);
      cursor = page.nextCursor;
    } while (cursor);
    const rows = await fx()
      .db.selectFrom('webhook_endpoints')
      .select('id')
      .where('tenant_id', '=', tenantId)
      .orderBy('created_at')
      .orderBy('id')
      .execute();
    expect(all.map((w) => w.id)).toEqual(rows.map((r) => r.id));
    expect(all.at(-1)).toEqual(mine.webhook);
    const theirs = await ok<{ webhooks: WebhookInfo[] }>(edge, '/api/admin/webhooks?limit=100', {
      key: neighbour,
    });
    expect(theirs.webhooks.map((w) => w.id)).not.toContain(mine.webhook.id);
    expect(JSON.stringify(all)).not.toContain('whsec_');
  });
});

describe('PATCH /api/admin/webhooks/:id', () => {
  it('changes what is given and nothing else', async () => {
    const { webhook } = await register({
      sessionId: 'one',
      events: ['message.received'],
      description: 'old',
    });
    const patch = (json: unknown) =>
      ok<{ webhook: WebhookInfo }>(edge, `/api/admin/webhooks/${webhook.id}`, {
        key: admin,
        method: 'PATCH',
        json,
      });
    const url = nextUrl();
    expect((await patch({ url })).webhook).toMatchObject({
      url,
      sessionId: 'one',
      events: ['message.received'],
      description: 'old',
    });
    expect((await patch({ events: ['session.qr', 'session.qr'] })).webhook.events).toEqual(['session.qr']);
    expect((await patch({ events: null, sessionId: 'two' })).webhook).toMatchObject({
      events: null,
      sessionId: 'two',
    });
    expect((await patch({ sessionId: null, description: null })).webhook).toMatchObject({
      sessionId: null,
      description: null,
      url,
    });
    const row = await endpointRow(webhook.id);
    expect([row.session_id, row.event_types, row.description]).toEqual([null, null, null]);
  });

  it('disables an endpoint, and enabling it again resumes its deliveries at once', async () => {
    const { webhook } = await register();
    const path = `/api/admin/webhooks/${webhook.id}`;
    const off = await ok<{ webhook: WebhookInfo }>(edge, path, {
      key: admin,
      method: 'PATCH',
      json: { enabled: false },
    });
    expect(off.webhook).toMatchObject({ enabled: false, disabledReason: 'disabled by an admin' });
    // As the worker leaves an endpoint it gave up on: failing for days, its retries hours away.
    await statusEvent(fx().db, sessionOf(one));
    expect(await deliveriesOf(webhook.id)).toEqual([]);
    await fx()
      .db.updateTable('webhook_endpoints')
      .set({
        disabled_reason: 'every delivery failed for 5 days',
        failing_since: sql<Date>`now() - interval '5 days'`,
        next_attempt_at: sql<Date>`now() + interval '10 hours'`,
      })
      .where('id', '=', webhook.id)
      .execute();
    const { seq, id: eventId } = await fx()
      .db.selectFrom('events')
      .select(['seq', 'id'])
      .where('tenant_id', '=', tenantId)
      .orderBy('seq', 'desc')
      .executeTakeFirstOrThrow();
    await fx()
      .db.insertInto('webhook_deliveries')
      .values({
        endpoint_id: webhook.id,
        event_id: eventId,
        event_seq: seq,
        attempts: 7,
        next_attempt_at: sql<Date>`now() + interval '10 hours'`,
      })
      .execute();
    const on = await ok<{ webhook: WebhookInfo }>(edge, path, {
      key: admin,
      method: 'PATCH',
      json: { enabled: true },
    });
    expect(on.webhook).toMatchObject({ enabled: true, disabledReason: null, failingSince: null, pending: 1 });
    const { rows } = await sql<{ endpoint_due: boolean; deliveries_due: boolean }>`
      select (select next_attempt_at <= now() from webhook_endpoints where id = ${webhook.id}) as endpoint_due,
             (select bool_and(next_attempt_at <= now()) from webhook_deliveries where endpoint_id = ${webhook.id})
               as deliveries_due`.execute(fx().db);
    expect(rows[0]).toEqual({ endpoint_due: true, deliveries_due: true });
    expect((await deliveriesOf(webhook.id))[0]?.attempts).toBe(7);
  });

  it('changes nothing, and records nothing, for an empty body or the values it has', async () => {
    const { webhook } = await register({ description: 'same' });
    const entries = (await auditLog(edge, admin)).length;
    for (const json of [{}, { description: 'same', enabled: true, events: null, sessionId: null }]) {
      const body = await ok<{ webhook: WebhookInfo }>(edge, `/api/admin/webhooks/${webhook.id}`, {
        key: admin,
        method: 'PATCH',
        json,
      });
      expect(body.webhook).toEqual(webhook);
    }
    expect(await auditLog(edge, admin)).toHaveLength(entries);
  });

  it('409 WEBHOOK_EXISTS for a URL the tenant has for the same sessions already', async () => {
    const first = await register({ sessionId: 'one' });
    const second = await register({ sessionId: 'two', url: first.webhook.url });
    const before = await endpointRow(second.webhook.id);
    await expectError(
      await call(edge.url, `/api/admin/webhooks/${second.webhook.id}`, {
        key: admin,
        method: 'PATCH',
        json: { sessionId: 'one', description: 'would be the same' },
      }),
      409,
      'WEBHOOK_EXISTS',
    );
    expect(await endpointRow(second.webhook.id)).toEqual(before);
  });
});

describe('DELETE /api/admin/webhooks/:id', () => {
  it('deletes the endpoint with its deliveries; it is gone after', async () => {
    const { webhook } = await register();
    await statusEvent(fx().db, sessionOf(one));
    expect(await deliveriesOf(webhook.id)).toHaveLength(1);
    const path = `/api/admin/webhooks/${webhook.id}`;
    expect(await ok(edge, path, { key: admin, method: 'DELETE' })).toEqual({ success: true });
    expect(await deliveriesOf(webhook.id)).toEqual([]);
    await expectError(await call(edge.url, path, { key: admin }), 404, 'WEBHOOK_NOT_FOUND');
    await expectError(await call(edge.url, path, { key: admin, method: 'DELETE' }), 404, 'WEBHOOK_NOT_FOUND');
  });
});

describe('POST /api/admin/webhooks/:id/rotate-secret', () => {
  it('gives a new secret once and keeps the old one signing until the overlap ends', async () => {
    const created = await register();
    const path = `/api/admin/webhooks/${created.webhook.id}/rotate-secret`;
    const rotated = await ok<WebhookSecretResponse>(edge, path, {
      key: admin,
      json: { overlapSeconds: 3600 },
    });
    secrets.push(rotated.secret);
    expect(rotated.secret).toMatch(/^whsec_/);
    expect(rotated.secret).not.toBe(created.secret);
    expect(rotated.webhook.id).toBe(created.webhook.id);
    const row = await endpointRow(created.webhook.id);
    expect(await box.open(row.secret)).toBe(rotated.secret);
    expect(row.previous_secret && (await box.open(row.previous_secret))).toBe(created.secret);
    expect(row.previous_until?.getTime()).toBe(clock.now().getTime() + 3_600_000);

    // Without a body: a day. A rotation during an overlap ends that overlap: only two secrets sign.
    const again = await ok<WebhookSecretResponse>(edge, path, { key: admin, method: 'POST' });
    secrets.push(again.secret);
    const after = await endpointRow(created.webhook.id);
    expect(await box.open(after.secret)).toBe(again.secret);
    expect(after.previous_secret && (await box.open(after.previous_secret))).toBe(rotated.secret);
    expect(after.previous_until?.getTime()).toBe(clock.now().getTime() + 86_400_000);

    const now = await ok<WebhookSecretResponse>(edge, path, { key: admin, json: { overlapSeconds: 0 } });
    secrets.push(now.secret);
    const last = await endpointRow(created.webhook.id);
    expect([last.previous_secret, last.previous_until]).toEqual([null, null]);
    expect(await box.open(last.secret)).toBe(now.secret);
  });
});

describe('POST /api/admin/webhooks/:id/test', () => {
  it('makes a webhook.test event of the tenant with one delivery, for this endpoint only', async () => {
    const target = await register({ sessionId: 'one', events: ['message.received'] });
    const bystander = await register();
    const answer = await read<{ success: boolean; eventId: string }>(
      await call(edge.url, `/api/admin/webhooks/${target.webhook.id}/test`, { key: admin, method: 'POST' }),
    );
    expect(answer.status).toBe(202);
    expect(answer.body).toEqual({ success: true, eventId: expect.stringMatching(/^evt_[0-9A-Z]{26}$/) });
    const event = await fx()
      .db.selectFrom('events')
      .selectAll()
      .where('id', '=', answer.body.eventId)
      .executeTakeFirstOrThrow();
    expect(event).toMatchObject({
      tenant_id: tenantId,
      session_id: null,
      session_name: null,
      type: 'webhook.test',
      data: { webhookId: target.webhook.id, message: expect.any(String) },
    });
    const deliveries = await fx()
      .db.selectFrom('webhook_deliveries')
      .selectAll()
      .where('event_id', '=', answer.body.eventId)
      .execute();
    expect(deliveries).toEqual([
      expect.objectContaining({
        endpoint_id: target.webhook.id,
        event_seq: event.seq,
        status: 'pending',
        attempts: 0,
        parked: false,
      }),
    ]);
    expect((await deliveriesOf(bystander.webhook.id)).map((d) => d.event_id)).not.toContain(
      answer.body.eventId,
    );
    // A tenant event: the admin pulls it, a session key does not.
    const mine = await ok<EventPage>(edge, '/api/events?types=webhook.test', { key: admin });
    expect(mine.events.map((e) => e.id)).toContain(answer.body.eventId);
    const theirs = await ok<EventPage>(edge, '/api/events?types=webhook.test', { key: one.key });
    expect(theirs.events).toEqual([]);
  });
});

describe('POST /api/admin/webhooks/:id/replay', () => {
  /** Marks the endpoint's deliveries delivered after an attempt or two, as the worker leaves them. */
  async function settle(endpointId: string) {
    await fx()
      .db.updateTable('webhook_deliveries')
      .set({
        status: 'delivered',
        attempts: 2,
        parked: true,
        first_attempt_at: sql<Date>`now() - interval '4 days'`,
        delivered_at: sql<Date>`now() - interval '1 day'`,
        next_attempt_at: sql<Date>`now() - interval '1 day'`,
      })
      .where('endpoint_id', '=', endpointId)
      .execute();
    await fx()
      .db.updateTable('webhook_endpoints')
      .set({ next_attempt_at: sql<Date>`now() + interval '2 hours'` })
      .where('id', '=', endpointId)
      .execute();
  }

  it('queues one event again, keeping its attempt count, and wakes the endpoint', async () => {
    const { webhook } = await register();
    const replayed = await statusEvent(fx().db, sessionOf(one));
    const other = await statusEvent(fx().db, sessionOf(two));
    await settle(webhook.id);
    const answer = await read(
      await call(edge.url, `/api/admin/webhooks/${webhook.id}/replay`, {
        key: admin,
        json: { eventId: replayed },
      }),
    );
    expect(answer).toEqual({ status: 202, body: { success: true, replayed: 1 } });
    const rows = await deliveriesOf(webhook.id);
    expect(rows.find((d) => d.event_id === replayed)).toMatchObject({
      status: 'pending',
      attempts: 2,
      parked: false,
      first_attempt_at: null,
      delivered_at: null,
    });
    expect(rows.find((d) => d.event_id === other)).toMatchObject({ status: 'delivered', parked: true });
    const { rows: due } = await sql<{ endpoint: boolean; delivery: boolean }>`
      select (select next_attempt_at <= now() from webhook_endpoints where id = ${webhook.id}) as endpoint,
             (select next_attempt_at <= now() from webhook_deliveries
              where endpoint_id = ${webhook.id} and event_id = ${replayed}) as delivery`.execute(fx().db);
    expect(due[0]).toEqual({ endpoint: true, delivery: true });
  });

  it('queues an event the endpoint never had (it came before the endpoint)', async () => {
    const earlier = await statusEvent(fx().db, sessionOf(one));
    const { webhook } = await register();
    expect(await deliveriesOf(webhook.id)).toEqual([]);
    await ok(
      edge,
      `/api/admin/webhooks/${webhook.id}/replay`,
      { key: admin, json: { eventId: earlier } },
      202,
    );
    expect((await deliveriesOf(webhook.id)).map((d) => [d.event_id, d.status])).toEqual([
      [earlier, 'pending'],
    ]);
  });

  it('404 EVENT_NOT_FOUND, one body, for an event that is unknown, another tenant’s, or not this endpoint’s session’s', async () => {
    const { webhook } = await register({ sessionId: 'one' });
    const neighbour = fx().tenant('neighbour');
    const foreignSession = await sessionWithKey(fx().db, neighbour.id, 'one');
    const cases: [string, string][] = [
      ['malformed', 'not-an-event'],
      ['unknown', 'evt_7ZZZZZZZZZZZZZZZZZZZZZZZZZ'],
      ['very long', `evt_${'7'.repeat(300)}`],
      ["another tenant's", await statusEvent(fx().db, sessionOf(foreignSession))],
      ["another session's", await statusEvent(fx().db, sessionOf(two))],
      [
        "the tenant's own, to a one-session endpoint",
        await addEvent(fx().db, { tenantId, id: null, name: null }, 'webhook.disabled', {
          webhookId: webhook.id,
          url: webhook.url,
          reason: 'test',
        }),
      ],
    ];
    const answers = [];
    for (const [name, eventId] of cases) {
      const response = await call(edge.url, `/api/admin/webhooks/${webhook.id}/replay`, {
        key: admin,
        json: { eventId },
      });
      answers.push({ name, status: response.status, body: await response.text() });
    }
    for (const answer of answers) {
      expect({ ...answer, name: '' }).toEqual({ ...answers[0], name: '' });
    }
    expect(answers[0]?.status).toBe(404);
    expect(JSON.parse(answers[0]?.body ?? '')).toMatchObject({ code: 'EVENT_NOT_FOUND' });
    expect(await deliveriesOf(webhook.id)).toEqual([]);
    // A test event made for it is its own, tenant event or not.
    const test = await ok<{ eventId: string }>(
      edge,
      `/api/admin/webhooks/${webhook.id}/test`,
      { key: admin, method: 'POST' },
      202,
    );
    const replay = await ok(
      edge,
      `/api/admin/webhooks/${webhook.id}/replay`,
      { key: admin, json: { eventId: test.eventId } },
      202,
    );
    expect(replay).toEqual({ success: true, replayed: 1 });
  });

  it('since a time: every event the endpoint’s session and types take, its own tests, for it only', async () => {
    const { db } = fx();
    const three = await sessionWithKey(db, tenantId, 'three');
    const before = await statusEvent(db, sessionOf(three));
    await sql`update events set created_at = now() - interval '1 hour' where id = ${before}`.execute(db);
    const since = new Date(Date.now() - 60_000).toISOString();
    // Its own test events go whatever its filters; the other's test events never.
    const target = await register({ sessionId: 'three', events: ['session.status'] });
    const bystander = await register();
    const wanted = [await statusEvent(db, sessionOf(three), 'connected')];
    await statusEvent(db, sessionOf(two));
    await addEvent(db, sessionOf(three), 'session.qr', { sessionId: 'three', qr: '2@y' });
    await addEvent(db, { tenantId, id: null, name: null }, 'webhook.disabled', {
      webhookId: bystander.webhook.id,
      url: bystander.webhook.url,
      reason: 'a tenant event, for all-session endpoints only',
    });
    await ok(edge, `/api/admin/webhooks/${bystander.webhook.id}/test`, { key: admin, method: 'POST' }, 202);
    const ownTest = await ok<{ eventId: string }>(
      edge,
      `/api/admin/webhooks/${target.webhook.id}/test`,
      { key: admin, method: 'POST' },
      202,
    );
    wanted.push(await statusEvent(db, sessionOf(three), 'reconnecting'));
    await settle(target.webhook.id);
    await settle(bystander.webhook.id);
    const bystanderBefore = await deliveriesOf(bystander.webhook.id);

    const answer = await ok<{ replayed: number }>(
      edge,
      `/api/admin/webhooks/${target.webhook.id}/replay`,
      { key: admin, json: { since } },
      202,
    );
    const rows = await deliveriesOf(target.webhook.id);
    const pending = rows.filter((d) => d.status === 'pending').map((d) => d.event_id);
    expect(pending).toEqual([wanted[0], ownTest.eventId, wanted[1]]);
    expect(answer).toEqual({ success: true, replayed: 3 });
    expect(rows.every((d) => d.status === 'pending')).toBe(true);
    expect(await deliveriesOf(bystander.webhook.id)).toEqual(bystanderBefore);

    const later = await ok<{ replayed: number }>(
      edge,
      `/api/admin/webhooks/${target.webhook.id}/replay`,
      { key: admin, json: { since: new Date(Date.now() + 60_000).toISOString() } },
      202,
    );
    expect(later.replayed).toBe(0);
  });
});

describe('GET /api/admin/webhooks/:id/deliveries', () => {
  it('lists the attempts the worker recorded, newest first, page by page', async () => {
    const { db } = fx();
    const { webhook } = await register();
    const eventId = await statusEvent(db, sessionOf(one));
    const delivery = (await deliveriesOf(webhook.id))[0];
    if (!delivery) throw new Error('no delivery');
    const due = {
      id: delivery.id,
      eventId,
      eventSeq: delivery.event_seq,
      attempts: 0,
      parked: false,
      firstAttemptAt: null,
      type: 'session.status',
      data: {},
      createdAt: new Date(),
    };
    const base = { delivery: due, endpointId: webhook.id, latencyMs: 12 };
    const t0 = Date.UTC(2026, 0, 31, 8);
    await recordAttempt(db, {
      ...base,
      at: new Date(t0),
      statusCode: null,
      error: 'connect ECONNREFUSED',
      outcome: 'failed',
      nextAttemptAt: new Date(t0 + 5_000),
    });
    await recordAttempt(db, {
      ...base,
      delivery: { ...due, attempts: 1, firstAttemptAt: new Date(t0) },
      at: new Date(t0 + 5_000),
      statusCode: 500,
      error: 'HTTP 500',
      outcome: 'failed',
      nextAttemptAt: new Date(t0 + 305_000),
    });
    await recordAttempt(db, {
      ...base,
      delivery: { ...due, attempts: 2, firstAttemptAt: new Date(t0) },
      at: new Date(t0 + 305_000),
      statusCode: 204,
      error: null,
      outcome: 'delivered',
      nextAttemptAt: null,
    });
    const path = `/api/admin/webhooks/${webhook.id}/deliveries`;
    const first = await ok<{ attempts: DeliveryAttemptInfo[]; nextCursor: string | null }>(
      edge,
      `${path}?limit=2`,
      { key: admin },
    );
    expect(first.attempts).toEqual([
      {
        id: expect.stringMatching(/^\d+$/),
        eventId,
        eventType: 'session.status',
        attemptedAt: new Date(t0 + 305_000).toISOString(),
        statusCode: 204,
        latencyMs: 12,
        error: null,
        outcome: 'delivered',
        nextAttemptAt: null,
      },
      expect.objectContaining({ statusCode: 500, error: 'HTTP 500', outcome: 'failed' }),
    ]);
    const second = await ok<{ attempts: DeliveryAttemptInfo[]; nextCursor: string | null }>(
      edge,
      `${path}?limit=2&cursor=${first.nextCursor}`,
      { key: admin },
    );
    expect(second).toEqual({
      success: true,
      attempts: [
        expect.objectContaining({
          statusCode: null,
          error: 'connect ECONNREFUSED',
          nextAttemptAt: new Date(t0 + 5_000).toISOString(),
        }),
      ],
      nextCursor: null,
    });
    // A replay keeps the log.
    await ok(edge, `/api/admin/webhooks/${webhook.id}/replay`, { key: admin, json: { eventId } }, 202);
    expect((await ok<{ attempts: unknown[] }>(edge, path, { key: admin })).attempts).toHaveLength(3);
    expect(
      (
        await ok<{ attempts: unknown[] }>(
          edge,
          `/api/admin/webhooks/${(await register()).webhook.id}/deliveries`,
          {
            key: admin,
          },
        )
      ).attempts,
    ).toEqual([]);
  });
});

describe('the audit log', () => {
  it('records every change to a webhook, and no secret', async () => {
    const created = await register({ sessionId: 'one' });
    const id = created.webhook.id;
    const path = `/api/admin/webhooks/${id}`;
    const event = await statusEvent(fx().db, sessionOf(one));
    await ok(edge, path, { key: admin, method: 'PATCH', json: { enabled: false, description: 'paused' } });
    const rotated = await ok<WebhookSecretResponse>(edge, `${path}/rotate-secret`, {
      key: admin,
      json: { overlapSeconds: 60 },
    });
    secrets.push(rotated.secret);
    const test = await ok<{ eventId: string }>(edge, `${path}/test`, { key: admin, method: 'POST' }, 202);
    await ok(edge, `${path}/replay`, { key: admin, json: { eventId: event } }, 202);
    await ok(edge, path, { key: admin, method: 'DELETE' });
    const entries = (await auditLog(edge, admin)).filter((e) => e.target === id);
    const actor = admin.slice(0, 12);
    expect(entries.map((e) => [e.actor, e.action])).toEqual([
      [actor, 'webhook.create'],
      [actor, 'webhook.update'],
      [actor, 'webhook.rotate_secret'],
      [actor, 'webhook.test'],
      [actor, 'webhook.replay'],
      [actor, 'webhook.delete'],
    ]);
    expect(entries.map((e) => e.detail)).toEqual([
      { url: created.webhook.url, events: null, sessionId: 'one', description: null },
      { fields: ['description', 'enabled'], description: 'paused', enabled: false },
      { overlapSeconds: 60, previousUntil: new Date(clock.now().getTime() + 60_000).toISOString() },
      { eventId: test.eventId },
      { eventId: event, replayed: 1 },
      { url: created.webhook.url },
    ]);
    const everything = JSON.stringify(await auditLog(edge, admin));
    const logs = JSON.stringify(edge.logger.lines);
    for (const secret of secrets) {
      expect(everything).not.toContain(secret);
      expect(logs).not.toContain(secret);
    }
    expect(everything).not.toContain('whsec_');
  });
});

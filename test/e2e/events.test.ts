// Events end to end, through the edge: what happens in a session reaches a real receiver as signed
// webhooks (checked with the standardwebhooks package customers use), and the pull API and the message
// store show the same. A receiver that is down gets everything in order once back; replay sends what
// was asked and nothing more.
import { Webhook } from 'standardwebhooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningEdge } from '../../edge/entries/node.js';
import { ensureOperatorKey } from '../../edge/tenancy/bootstrap.js';
import { generateSecretKey, parseSecretKey } from '../../shared/webhook-secrets.js';
import { useTestDatabase } from '../helpers/postgres.js';
import { type Receiver, startReceiver } from '../helpers/webhook-receiver.js';
import type { SimServer } from '../wa-sim/server.js';
import { startTestEdge, useBackend } from './backend.js';
import { api, linkByQr, until } from './flow.js';

const SECRET = 'events-e2e-secret-events-e2e-secret-0123';
const KEY = generateSecretKey();
const database = useTestDatabase();
const backend = useBackend(database, {
  hostId: 'host-events-e2e',
  secret: SECRET,
  // Retries in tenths of a second, so an outage fits in a test.
  webhooks: {
    secretKey: parseSecretKey(KEY),
    allowPrivate: true,
    policy: {
      delaysMs: [200],
      jitter: 0,
      giveUpAfterMs: 600_000,
      disableAfterMs: 600_000,
      probeAfterFailures: 1000,
    },
  },
});
let edge: RunningEdge;
let sim: SimServer;
let adminKey: string;
let down = false;
let receiver: Receiver;
let webhook: { id: string; secret: string };
let sessionKey: string;
const PHONE = '628200000001';
const CONTACT = '628200000099';

type Payload = { type: string; timestamp: string; data: Record<string, unknown> };
const verified = (secret: string) =>
  receiver.received.map(
    (r) => new Webhook(secret).verify(r.body, r.headers as Record<string, string>) as Payload,
  );
const eventsOf = async (key: string, query: string) =>
  (await api(edge.url, 'GET', `/api/events?${query}`, { key })).body as {
    events: { id: string; type: string; data: Record<string, unknown> }[];
    nextCursor: string | null;
  };

beforeAll(async () => {
  ({ sim, adminKey } = backend());
  edge = await startTestEdge(database().db, SECRET, { webhooks: { secretKey: KEY, allowPrivate: true } });
  receiver = await startReceiver(() => (down ? 503 : 200));
  const created = await api(edge.url, 'POST', '/api/admin/webhooks', {
    key: adminKey,
    body: { url: receiver.url, description: 'e2e' },
  });
  expect(created.status).toBe(201);
  webhook = { id: created.body.webhook.id, secret: created.body.secret };
  const session = await api(edge.url, 'POST', '/api/session/create', {
    key: adminKey,
    body: { sessionId: 'toko' },
  });
  sessionKey = session.body.apiKey;
  await linkByQr(edge.url, sim, sessionKey, PHONE, 'Toko');
  await until(async () =>
    (await api(edge.url, 'GET', '/api/session/status', { key: sessionKey })).body.connected
      ? true
      : undefined,
  );
});
afterAll(async () => {
  await edge?.close();
  await receiver?.close();
});

describe('events end to end', () => {
  it("a contact's message arrives as a signed message.received, and is in the message store and the event log", async () => {
    const sent = await fetch(`${sim.url}/sim/contacts/${CONTACT}/messages`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ to: PHONE, text: 'Halo, stoknya ada?' }),
    });
    const { id } = (await sent.json()) as { id: string };
    const payload = await until(async () =>
      verified(webhook.secret).find(
        (p) => p.type === 'message.received' && (p.data.message as { id: string }).id === id,
      ),
    );
    expect(payload.data).toEqual({
      sessionId: 'toko',
      message: expect.objectContaining({
        id,
        direction: 'in',
        chat: `${CONTACT}@s.whatsapp.net`,
        from: `${CONTACT}@s.whatsapp.net`,
        kind: 'text',
        text: 'Halo, stoknya ada?',
        status: null,
      }),
    });
    const listed = await api(edge.url, 'GET', `/api/messages?chat=${CONTACT}`, { key: sessionKey });
    expect(listed.body.messages.map((m: { id: string }) => m.id)).toContain(id);
    const events = await eventsOf(sessionKey, 'types=message.received');
    const event = events.events.find((e) => (e.data.message as { id: string }).id === id);
    expect(event).toBeDefined();
    // The webhook-id is the event's id: a receiver's deduplication key.
    expect(receiver.received.find((r) => r.id === event?.id)).toBeDefined();
  });

  it('a sent message goes message.sent, then delivered, then read; GET /api/messages/:id says read', async () => {
    const send = await api(edge.url, 'POST', '/api/send', {
      key: sessionKey,
      body: { to: CONTACT, message: 'Ada, kak!' },
    });
    expect(send.status).toBe(200);
    const id = send.body.result.key.id as string;
    await until(async () =>
      (await api(edge.url, 'GET', `/api/messages/${id}`, { key: sessionKey })).body.message?.status ===
      'delivered'
        ? true
        : undefined,
    );
    const read = await fetch(`${sim.url}/sim/contacts/${CONTACT}/read`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ to: PHONE, ids: [id] }),
    });
    expect(read.status).toBe(200);
    const message = await until(async () => {
      const got = await api(edge.url, 'GET', `/api/messages/${id}`, { key: sessionKey });
      return got.body.message?.status === 'read' ? got.body.message : undefined;
    });
    expect(message).toMatchObject({
      id,
      direction: 'out',
      source: 'api',
      text: 'Ada, kak!',
      chat: `${CONTACT}@s.whatsapp.net`,
    });
    const mine = await until(async () => {
      const found = verified(webhook.secret).filter(
        (p) => (p.data.message as { id?: string } | undefined)?.id === id || p.data.id === id,
      );
      return found.length >= 3 ? found : undefined;
    });
    expect(mine.map((p) => (p.type === 'message.status' ? `status:${p.data.status}` : p.type))).toEqual([
      'message.sent',
      'status:delivered',
      'status:read',
    ]);
  });

  it('a receiver that is down gets everything in order once back; the log shows each attempt; replay sends only what is asked', async () => {
    down = true;
    const before = receiver.received.length;
    const texts = ['satu', 'dua', 'tiga', 'empat'];
    for (const text of texts) {
      await fetch(`${sim.url}/sim/contacts/${CONTACT}/messages`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ to: PHONE, text }),
      });
    }
    await until(async () => (receiver.received.length >= before + 3 ? true : undefined));
    down = false;
    const arrived = await until(async () => {
      const texts = verified(webhook.secret)
        .filter((p) => p.type === 'message.received')
        .map((p) => (p.data.message as { text: string }).text);
      return ['satu', 'dua', 'tiga', 'empat'].every((t) => texts.includes(t)) ? texts : undefined;
    });
    // In order: once each succeeded, after the first one's failed tries.
    const order = [...new Set(arrived.filter((t) => texts.includes(t)))];
    expect(order).toEqual(texts);
    const log = await api(edge.url, 'GET', `/api/admin/webhooks/${webhook.id}/deliveries?limit=100`, {
      key: adminKey,
    });
    const attempts = log.body.attempts as { outcome: string; statusCode: number | null; eventId: string }[];
    expect(
      attempts.filter((a) => a.outcome === 'failed' && a.statusCode === 503).length,
    ).toBeGreaterThanOrEqual(3);

    // Replay one event: it comes once more, and nothing else does.
    const target = receiver.received.at(-1)?.id ?? '';
    const count = receiver.received.length;
    const replayed = await api(edge.url, 'POST', `/api/admin/webhooks/${webhook.id}/replay`, {
      key: adminKey,
      body: { eventId: target },
    });
    expect(replayed.status).toBe(202);
    await until(async () => (receiver.received.length > count ? true : undefined));
    await new Promise((r) => setTimeout(r, 1_500));
    expect(receiver.received.slice(count).map((r) => r.id)).toEqual([target]);
    // Answered 200 twice for the same webhook-id: no third delivery.
    expect(receiver.received.filter((r) => r.id === target)).toHaveLength(2);
  });

  it('a logout from the phone and a new QR each produce an event (a 440: test/node-runtime/host/events.test.ts)', async () => {
    const created = await api(edge.url, 'POST', '/api/session/create', {
      key: adminKey,
      body: { sessionId: 'kasir' },
    });
    const key = created.body.apiKey as string;
    const qr = await linkByQr(edge.url, sim, key, '628200000002', 'Kasir');
    await until(async () =>
      (await api(edge.url, 'GET', '/api/session/status', { key })).body.connected ? true : undefined,
    );
    await fetch(`${sim.url}/sim/accounts/628200000002/unlink`, { method: 'POST' });
    const events = await until(async () => {
      const found = await eventsOf(key, 'types=session.status,session.qr&limit=500');
      return found.events.some((e) => e.data.state === 'logged-out') ? found.events : undefined;
    });
    expect(events.find((e) => e.type === 'session.qr')?.data).toEqual({ sessionId: 'kasir', qr });
    expect(events.find((e) => e.data.state === 'logged-out')?.data).toMatchObject({ reason: 'logged-out' });
    // The admin key sees the tenant's events, this session's among them.
    const all = await eventsOf(adminKey, 'types=session.status&limit=500');
    expect(all.events.some((e) => e.data.sessionId === 'kasir' && e.data.state === 'logged-out')).toBe(true);
  });

  it("the host's /metrics, after all of the above: every family counted, no tenant, session or phone in a label", async () => {
    const res = await fetch(`${backend().host.url}/metrics`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    const text = await res.text();
    /** The sum of a family's samples whose labels include `labels` (all of them when none are given). */
    const sum = (name: string, labels = '') =>
      text
        .split('\n')
        .filter((line) => line.startsWith(`${name}{`) || line.startsWith(`${name} `))
        .filter((line) => line.includes(labels))
        .reduce((total, line) => total + Number(line.slice(line.lastIndexOf(' ') + 1)), 0);
    expect(sum('wa_http_requests_total', 'route="/internal/sessions/:id/send"')).toBeGreaterThan(0);
    expect(sum('wa_http_request_duration_seconds_count')).toBeGreaterThan(0);
    expect(sum('wa_sessions', 'state="connected"')).toBeGreaterThan(0);
    expect(sum('wa_sessions', 'state="logged-out"')).toBeGreaterThan(0);
    // Every link ends in WhatsApp's 515 "restart required", and the socket connects again.
    expect(sum('wa_session_reconnects_total', 'reason="restart-required"')).toBeGreaterThan(0);
    expect(sum('wa_messages_sent_total', 'outcome="sent"')).toBeGreaterThan(0);
    expect(sum('wa_messages_received_total')).toBeGreaterThan(0);
    expect(text).toMatch(/^wa_outbox_queued_messages \d+$/m);
    expect(sum('wa_webhook_deliveries_total', 'outcome="delivered"')).toBeGreaterThan(0);
    expect(sum('wa_webhook_deliveries_total', 'outcome="failed"')).toBeGreaterThan(0);
    expect(sum('wa_webhook_delivery_duration_seconds_count')).toBeGreaterThan(0);
    expect(sum('wa_db_pool_connections_max', 'pool="sessions"')).toBeGreaterThan(0);
    expect(text).toMatch(/^wa_db_pool_connections_in_use\{pool="sessions"\} \d+$/m);
    expect(sum('process_cpu_seconds_total')).toBeGreaterThan(0);
    expect(sum('wa_event_loop_busy_seconds_total')).toBeGreaterThan(0);
    // Labels are patterns and states, never ids: no session UUID, phone number or session name.
    const labels = text
      .split('\n')
      .filter((line) => !line.startsWith('#') && line.includes('{'))
      .map((line) => line.slice(line.indexOf('{'), line.lastIndexOf('}') + 1));
    expect(labels.length).toBeGreaterThan(20);
    expect(labels.filter((set) => /[0-9a-f]{8}-[0-9a-f]{4}-|\d{9,}|kasir/.test(set))).toEqual([]);
  });

  it("the Node edge's /metrics: only with the operator key (header or bearer), requests by route and status", async () => {
    const operatorKey = (await ensureOperatorKey(database().db)).operatorKey ?? '';
    const scrape = (headers: Record<string, string>) => fetch(`${edge.url}/metrics`, { headers });
    const none = await scrape({});
    expect(none.status).toBe(401);
    expect(await none.json()).toMatchObject({ code: 'MISSING_API_KEY' });
    const admin = await scrape({ 'x-api-key': adminKey });
    expect(admin.status).toBe(403);
    expect(await admin.json()).toMatchObject({ code: 'WRONG_SCOPE' });
    expect((await scrape({ authorization: 'Bearer wago_not_a_real_key_at_all_000000000' })).status).toBe(403);
    const byHeader = await scrape({ 'x-api-key': operatorKey });
    expect(byHeader.status, await byHeader.clone().text()).toBe(200);
    const res = await scrape({ authorization: `Bearer ${operatorKey}` });
    expect(res.status).toBe(200);
    const text = await res.text();
    expect(text).toMatch(
      /^wa_http_requests_total\{route="\/api\/session\/create",method="POST",status="200"\} [1-9]/m,
    );
    expect(text).toMatch(
      /^wa_http_requests_total\{route="\/api\/session\/qr",method="GET",status="200"\} [1-9]/m,
    );
    expect(text).toMatch(/^wa_http_requests_total\{route="\/metrics",method="GET",status="401"\} [1-9]/m);
    expect(text).toMatch(
      /^wa_http_request_duration_seconds_count\{route="\/api\/session\/create",method="POST"\} [1-9]/m,
    );
    // Its calls to the host went over one kept channel.
    expect(text).toMatch(/^wa_host_calls_total\{via="channel"\} [1-9]/m);
    expect(text).toMatch(/^wa_host_channels_opened_total\{outcome="opened"\} [1-9]/m);
    expect(text).not.toMatch(/^wa_host_calls_total\{via="http"\} [1-9]/m);
    expect(text).toMatch(/^wa_db_pool_connections_max\{pool="edge"\} [1-9]/m);
    expect(text).toMatch(/^wa_db_pool_connections_in_use\{pool="edge"\} \d+$/m);
    expect(text).toMatch(/^wa_event_loop_busy_seconds_total \d+(\.\d+)?(e[-+]?\d+)?$/m);
    // Paths with ids are counted under their pattern, never their own path.
    expect(text).not.toMatch(/route="[^"]*(kasir|[0-9a-f]{8}-[0-9a-f]{4}-|evt_)/);
  });
});

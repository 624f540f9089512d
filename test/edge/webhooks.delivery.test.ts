// The rows the edge writes, worked by the hosts' real webhook worker: a test event, a rotation's two
// signatures, a replay, a disabled endpoint held and resumed. Checked at a real receiver with an
// independent verifier (the standardwebhooks package). The worker does not poll: each reaches it on
// PostgreSQL's notice, as soon as the edge's transaction commits.
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { pino } from 'pino';
import { Webhook } from 'standardwebhooks';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createListener, hostConnectionName, type Listener } from '../../node-runtime/db/connect.js';
import { WebhookPoster } from '../../node-runtime/webhooks/http.js';
import { hearWebhookNotices } from '../../node-runtime/webhooks/notices.js';
import { WebhookWorker } from '../../node-runtime/webhooks/worker.js';
import type { DeliveryAttemptInfo, WebhookSecretResponse } from '../../shared/webhook-schemas.js';
import { parseSecretKey, SecretBox } from '../../shared/webhook-secrets.js';
import { ok } from './admin-helpers.js';
import { webhookConfig } from './event-helpers.js';
import { useEdge } from './fixture.js';
import type { TestEdge } from './helpers.js';

interface Received {
  headers: IncomingHttpHeaders;
  body: string;
}

const webhooks = { ...webhookConfig(), allowPrivate: true };
const fx = useEdge({ hosts: [], edge: { webhooks } });
let edge: TestEdge;
let admin: string;
let receiver: Server;
let url: string;
const received: Received[] = [];
let worker: WebhookWorker;
let poster: WebhookPoster;
let listener: Listener;

beforeAll(async () => {
  ({ edge, admin } = fx());
  receiver = createServer((req, res) => {
    let body = '';
    req.on('data', (chunk: Buffer) => {
      body += chunk.toString('utf8');
    });
    req.on('end', () => {
      received.push({ headers: req.headers, body });
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`;
  poster = new WebhookPoster({ allowPrivate: true });
  worker = new WebhookWorker({
    db: fx().db,
    owner: 'test-worker',
    secrets: new SecretBox(parseSecretKey(webhooks.secretKey)),
    poster,
    logger: pino({ level: 'silent' }),
    pollMs: 60_000, // nothing is found by polling: what arrives came on a notice
  });
  worker.start();
  listener = createListener(fx().database.url);
  await hearWebhookNotices(worker, listener, hostConnectionName('test'));
});

afterAll(async () => {
  await worker?.stop();
  await listener?.close();
  await poster?.close();
  await new Promise((resolve) => receiver?.close(resolve));
});

/** The deliveries of event `id` the receiver got, once there are `count`. */
const deliveriesOf = (id: string, count = 1) =>
  vi.waitFor(
    () => {
      const found = received.filter((r) => r.headers['webhook-id'] === id);
      expect(found).toHaveLength(count);
      return found;
    },
    { timeout: 10_000, interval: 50 },
  );

const sendTest = async (webhookId: string) =>
  (
    await ok<{ eventId: string }>(
      edge,
      `/api/admin/webhooks/${webhookId}/test`,
      { key: admin, method: 'POST' },
      202,
    )
  ).eventId;

describe('rows the edge writes, delivered by the hosts’ worker', () => {
  let created: WebhookSecretResponse;

  beforeAll(async () => {
    created = await ok<WebhookSecretResponse>(
      edge,
      '/api/admin/webhooks',
      { key: admin, json: { url } },
      201,
    );
  });

  it('a test event arrives, signed with the secret shown at creation', async () => {
    const eventId = await sendTest(created.webhook.id);
    const [delivery] = await deliveriesOf(eventId);
    if (!delivery) throw new Error('no delivery');
    const payload = new Webhook(created.secret).verify(
      delivery.body,
      delivery.headers as Record<string, string>,
    );
    expect(payload).toEqual({
      type: 'webhook.test',
      timestamp: expect.any(String),
      data: { webhookId: created.webhook.id, message: expect.any(String) },
    });
    const log = await ok<{ attempts: DeliveryAttemptInfo[] }>(
      edge,
      `/api/admin/webhooks/${created.webhook.id}/deliveries`,
      { key: admin },
    );
    expect(log.attempts[0]).toMatchObject({
      eventId,
      eventType: 'webhook.test',
      outcome: 'delivered',
      statusCode: 204,
    });
  });

  it('after a rotation, deliveries carry a signature for the old secret and one for the new', async () => {
    const rotated = await ok<WebhookSecretResponse>(
      edge,
      `/api/admin/webhooks/${created.webhook.id}/rotate-secret`,
      { key: admin, json: { overlapSeconds: 3600 } },
    );
    const eventId = await sendTest(created.webhook.id);
    const [delivery] = await deliveriesOf(eventId);
    if (!delivery) throw new Error('no delivery');
    expect(String(delivery.headers['webhook-signature']).split(' ')).toHaveLength(2);
    const headers = delivery.headers as Record<string, string>;
    for (const secret of [created.secret, rotated.secret]) {
      expect(new Webhook(secret).verify(delivery.body, headers)).toMatchObject({ type: 'webhook.test' });
    }
    created = { ...created, secret: rotated.secret };
  });

  it('a replay sends the event again, with the same id', async () => {
    const eventId = await sendTest(created.webhook.id);
    await deliveriesOf(eventId);
    await ok(
      edge,
      `/api/admin/webhooks/${created.webhook.id}/replay`,
      { key: admin, json: { eventId } },
      202,
    );
    const both = await deliveriesOf(eventId, 2);
    expect(both[1]?.body).toBe(both[0]?.body);
  });

  it('a disabled endpoint gets nothing until it is enabled again', async () => {
    const path = `/api/admin/webhooks/${created.webhook.id}`;
    await ok(edge, path, { key: admin, method: 'PATCH', json: { enabled: false } });
    const eventId = await sendTest(created.webhook.id);
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    expect(received.filter((r) => r.headers['webhook-id'] === eventId)).toEqual([]);
    await ok(edge, path, { key: admin, method: 'PATCH', json: { enabled: true } });
    await deliveriesOf(eventId);
  });
});

// A tenant's webhook endpoint, in the bench process: a plain node:http server that answers 200 at once
// and keeps each delivery (headers, body, when its body had arrived) for the scenario to match against
// what was sent and to verify the signatures of afterwards, outside the measured time.
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Webhook } from 'standardwebhooks';

export interface ReceivedDelivery {
  /** When the whole body had arrived (epoch ms, sub-millisecond). */
  at: number;
  /** `webhook-id`: the event's id. */
  id: string;
  headers: { 'webhook-id': string; 'webhook-timestamp': string; 'webhook-signature': string };
  body: string;
  /** The payload's `type`. */
  type: string;
  /** The payload's `timestamp`: the event's `created_at`. */
  timestamp: string;
  /** `data.message.id` for message events: WhatsApp's message id. */
  messageId?: string;
}

const now = () => performance.timeOrigin + performance.now();
const header = (req: IncomingMessage, name: string) => {
  const value = req.headers[name];
  return Array.isArray(value) ? value.join(', ') : (value ?? '');
};

export class WebhookReceiver {
  readonly deliveries: ReceivedDelivery[] = [];
  /** Deliveries that were not a JSON payload of the expected shape. */
  malformed = 0;
  private listeners = new Set<(d: ReceivedDelivery) => void>();

  private constructor(
    private readonly server: Server,
    readonly url: string,
  ) {}

  static async start(path = '/hooks/bench'): Promise<WebhookReceiver> {
    const server = createServer();
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', resolve);
    });
    const { port } = server.address() as AddressInfo;
    const receiver = new WebhookReceiver(server, `http://127.0.0.1:${port}${path}`);
    server.on('request', (req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const at = now();
        res.writeHead(200, { 'content-length': '0' }).end();
        receiver.received(at, req, Buffer.concat(chunks).toString('utf8'));
      });
    });
    return receiver;
  }

  private received(at: number, req: IncomingMessage, body: string) {
    let payload: { type?: unknown; timestamp?: unknown; data?: { message?: { id?: unknown } } };
    try {
      payload = JSON.parse(body);
    } catch {
      this.malformed++;
      return;
    }
    if (typeof payload.type !== 'string' || typeof payload.timestamp !== 'string') {
      this.malformed++;
      return;
    }
    const messageId = payload.data?.message?.id;
    const delivery: ReceivedDelivery = {
      at,
      id: header(req, 'webhook-id'),
      headers: {
        'webhook-id': header(req, 'webhook-id'),
        'webhook-timestamp': header(req, 'webhook-timestamp'),
        'webhook-signature': header(req, 'webhook-signature'),
      },
      body,
      type: payload.type,
      timestamp: payload.timestamp,
      ...(typeof messageId === 'string' ? { messageId } : {}),
    };
    this.deliveries.push(delivery);
    for (const listener of this.listeners) listener(delivery);
  }

  /**
   * Resolves once `message.received` has arrived for every id in `ids` (or at `timeoutMs`), with the
   * deliveries of those ids seen so far: all of them, duplicates included.
   */
  waitForMessages(ids: Iterable<string>, timeoutMs: number): Promise<{ complete: boolean; missing: number }> {
    const missing = new Set(ids);
    for (const d of this.deliveries)
      if (d.type === 'message.received' && d.messageId) missing.delete(d.messageId);
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.listeners.delete(listener);
        resolve({ complete: missing.size === 0, missing: missing.size });
      };
      const listener = (d: ReceivedDelivery) => {
        if (d.type !== 'message.received' || !d.messageId) return;
        missing.delete(d.messageId);
        if (missing.size === 0) done();
      };
      const timer = setTimeout(done, timeoutMs);
      this.listeners.add(listener);
      if (missing.size === 0) done();
    });
  }

  /** How many of `deliveries` carry a signature that verifies with `secret` (standardwebhooks' verify). */
  static verified(deliveries: ReceivedDelivery[], secret: string): number {
    const webhook = new Webhook(secret);
    let ok = 0;
    for (const d of deliveries) {
      try {
        webhook.verify(d.body, d.headers);
        ok++;
      } catch {
        // counted as not verified
      }
    }
    return ok;
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

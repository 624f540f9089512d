// A real HTTP server standing in for a customer's webhook endpoint: it records what it is sent and
// answers as the test says.
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';

export type Delivery = { id: string; type: string; body: string; headers: IncomingHttpHeaders; at: number };

/** What to answer to the n-th delivery: a status, a status after a delay, or no answer at all. */
export type Answer = (delivery: Delivery, n: number) => number | { status: number; delayMs: number } | 'hang';

export type Receiver = { url: string; received: Delivery[]; close(): Promise<void> };

export async function startReceiver(answer: Answer = () => 200): Promise<Receiver> {
  const received: Delivery[] = [];
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => {
      body += c.toString();
    });
    req.on('end', () => {
      const type = (JSON.parse(body || '{}') as { type?: string }).type ?? '';
      const delivery = {
        id: String(req.headers['webhook-id']),
        type,
        body,
        headers: req.headers,
        at: Date.now(),
      };
      received.push(delivery);
      const given = answer(delivery, received.length);
      if (given === 'hang') return;
      const { status, delayMs } = typeof given === 'number' ? { status: given, delayMs: 0 } : given;
      setTimeout(() => {
        if (status >= 300 && status < 400)
          res.writeHead(status, { location: 'http://127.0.0.1:1/elsewhere' });
        else res.writeHead(status);
        res.end('ok');
      }, delayMs);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/hook`,
    received,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

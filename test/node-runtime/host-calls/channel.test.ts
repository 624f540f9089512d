// The edge's call channels to a host (node-runtime/host-calls): calls and answers as lines over one kept
// connection, on real node:http servers and sockets. The host app here is a small Hono app; the real
// host's routes and token checks over a channel are in test/node-runtime/host/internal-api.error.test.ts.
import { createServer, request as httpRequest, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { getRequestListener } from '@hono/node-server';
import { Hono } from 'hono';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import type { HostHttpRequest, HostTransport } from '../../../edge/hosts/transport.js';
import { hostChannels } from '../../../node-runtime/host-calls/client.js';
import { serveCalls } from '../../../node-runtime/host-calls/server.js';
import {
  CALLS_PATH,
  CALLS_PROTOCOL,
  LineWriter,
  MAX_CALL_BYTES,
} from '../../../node-runtime/host-calls/wire.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A host app: what it got back as JSON, a slow route, an error with Retry-After, one that throws. */
function app(seen: string[]) {
  return new Hono()
    .all('/echo/*', async (c) => {
      seen.push(c.req.path);
      return c.json({
        method: c.req.method,
        path: c.req.path,
        authorization: c.req.header('authorization') ?? null,
        body: c.req.method === 'POST' ? await c.req.text() : null,
      });
    })
    .get('/slow/:ms', async (c) => {
      seen.push(c.req.path);
      await sleep(Number(c.req.param('ms')));
      return c.json({ slept: true });
    })
    .get('/big/:bytes', (c) => c.json({ text: 'x'.repeat(Number(c.req.param('bytes'))) }))
    .get('/busy', (c) => c.json({ code: 'HOST_UNAVAILABLE' }, 503, { 'retry-after': '7' }))
    .get('/throws', () => {
      throw new Error('broken route');
    });
}

type Host = { server: Server; url: string; seen: string[]; upgrades: () => number; close(): Promise<void> };
const open: Host[] = [];

/** A host serving `app` over HTTP and, unless `channels` is false, over call channels. */
async function startHost({ channels = true } = {}): Promise<Host> {
  const seen: string[] = [];
  const hono = app(seen);
  const server = createServer(getRequestListener(hono.fetch));
  // A call the app itself rejects (the host's app answers every error; this one does not).
  const handle = async (request: Request) => {
    if (new URL(request.url).pathname === '/rejects') throw new Error('rejected');
    return hono.fetch(request);
  };
  const calls = channels ? serveCalls(server, handle, pino({ level: 'silent' })) : undefined;
  let upgrades = 0;
  // Counted only beside serveCalls: a listener of its own would make the server take upgrades.
  if (calls) server.on('upgrade', () => upgrades++);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const host: Host = {
    server,
    url: `http://127.0.0.1:${port}`,
    seen,
    upgrades: () => upgrades,
    async close() {
      const closed = new Promise((resolve) => server.close(resolve));
      server.closeAllConnections();
      await calls?.close();
      await closed;
    },
  };
  open.push(host);
  return host;
}

/** The transport under test, with the HTTP one it falls back on counted. */
function client() {
  const overHttp: HostHttpRequest[] = [];
  const http: HostTransport = async (request) => {
    overHttp.push(request);
    const response = await fetch(request.url, {
      method: request.method,
      headers: request.headers,
      ...(request.body === undefined ? {} : { body: request.body }),
    });
    const text = await response.text();
    return {
      status: response.status,
      read: async () => text,
      stream: () => new Blob([text]).stream(),
      header: (name) => response.headers.get(name),
    };
  };
  // What the edge's metrics are told.
  const told: string[] = [];
  const channels = hostChannels(http, {
    connectTimeoutMs: 1_000,
    observe: { call: (via) => told.push(`call ${via}`), opened: (outcome) => told.push(outcome) },
  });
  const call = (url: string, init: Partial<HostHttpRequest> = {}) =>
    channels.transport({ url, method: 'GET', headers: {}, timeoutMs: 2_000, ...init });
  return { call, overHttp, told, close: () => channels.close() };
}

afterEach(async () => {
  await Promise.all(open.splice(0).map((host) => host.close()));
});

describe('calls over a channel', () => {
  it('carries many calls at once over one connection, each answered with its own answer', async () => {
    const host = await startHost();
    const { call, overHttp, told, close } = client();
    const answers = await Promise.all(
      Array.from({ length: 40 }, (_, i) =>
        call(`${host.url}/echo/${i}?q=${i}`, {
          method: i % 2 ? 'POST' : 'GET',
          headers: { authorization: `Bearer token-${i}` },
          ...(i % 2 ? { body: JSON.stringify({ n: i, text: 'héllo\nwörld' }) } : {}),
        }),
      ),
    );
    for (const [i, answer] of answers.entries()) {
      expect(answer.status).toBe(200);
      expect(JSON.parse(await answer.read())).toEqual({
        method: i % 2 ? 'POST' : 'GET',
        path: `/echo/${i}`,
        authorization: `Bearer token-${i}`,
        body: i % 2 ? JSON.stringify({ n: i, text: 'héllo\nwörld' }) : null,
      });
    }
    expect(host.upgrades()).toBe(1);
    expect(overHttp).toHaveLength(0);
    // Later calls reuse it.
    expect((await call(`${host.url}/echo/again`)).status).toBe(200);
    expect(host.upgrades()).toBe(1);
    expect(told).toEqual(['opened', ...Array.from({ length: 41 }, () => 'call channel')]);
    await close();
  });

  it("passes an error's headers on (Retry-After); an app that fails is a 500 that leaves the channel up", async () => {
    const host = await startHost();
    const { call, close } = client();
    const busy = await call(`${host.url}/busy`);
    expect(busy.status).toBe(503);
    expect(busy.header('Retry-After')).toBe('7');
    expect(JSON.parse(await busy.read())).toEqual({ code: 'HOST_UNAVAILABLE' });
    const thrown = await call(`${host.url}/throws`);
    expect(thrown.status).toBe(500); // the app's own answer, passed on
    const rejected = await call(`${host.url}/rejects`);
    expect(rejected.status).toBe(500);
    expect(JSON.parse(await rejected.read())).toMatchObject({ code: 'INTERNAL_ERROR' });
    expect((await call(`${host.url}/echo/after`)).status).toBe(200);
    expect(host.upgrades()).toBe(1);
    await close();
  });

  it("takes an answer longer than a call may be (a host's answer is not bounded like a call)", async () => {
    const host = await startHost();
    const { call, overHttp, close } = client();
    const answer = await call(`${host.url}/big/${2 * MAX_CALL_BYTES}`);
    expect(JSON.parse(await answer.read()).text).toHaveLength(2 * MAX_CALL_BYTES);
    expect(overHttp).toHaveLength(0);
    await close();
  });

  it('gives up on a call that takes too long; the next call goes over a new channel if nothing was heard', async () => {
    const host = await startHost();
    const { call, close } = client();
    await expect(call(`${host.url}/slow/400`, { timeoutMs: 100 })).rejects.toMatchObject({
      name: 'TimeoutError',
    });
    expect((await call(`${host.url}/echo/next`)).status).toBe(200);
    expect(host.upgrades()).toBe(2);
    await close();
  });

  it('a host that stops answers the calls under way, runs none that come after, and takes no new channel', async () => {
    const host = await startHost();
    const { call, close } = client();
    expect((await call(`${host.url}/echo/first`)).status).toBe(200);
    const underWay = call(`${host.url}/slow/300`);
    await sleep(50);
    const stopping = host.close();
    const late = call(`${host.url}/echo/late`);
    expect((await underWay).status).toBe(200);
    await expect(late).rejects.toMatchObject({ code: 'ECONNRESET' });
    await stopping;
    expect(host.seen).toEqual(['/echo/first', '/slow/300']);
    await close();
  });

  it('a host without channels (an older version) is called over HTTP, without asking again each time', async () => {
    const host = await startHost({ channels: false });
    const { call, overHttp, told, close } = client();
    expect((await call(`${host.url}/echo/1`)).status).toBe(200);
    expect((await call(`${host.url}/echo/2`)).status).toBe(200);
    expect(overHttp.map((r) => r.url)).toEqual([`${host.url}/echo/1`, `${host.url}/echo/2`]);
    expect(told).toEqual(['refused', 'call http', 'call http']);
    expect(host.seen).toEqual(['/echo/1', '/echo/2']);
    await close();
  });

  it('files, long bodies and TLS hosts go over HTTP', async () => {
    const host = await startHost();
    const { call, overHttp, close } = client();
    const long = 'x'.repeat(MAX_CALL_BYTES);
    const answer = await call(`${host.url}/echo/long`, { method: 'POST', body: long });
    expect(JSON.parse(await answer.read()).body).toBe(long);
    await call(`${host.url}/echo/file`, { streamed: true });
    await expect(call('https://127.0.0.1:1/echo/tls')).rejects.toThrow();
    expect(overHttp.map((r) => r.url)).toEqual([
      `${host.url}/echo/long`,
      `${host.url}/echo/file`,
      'https://127.0.0.1:1/echo/tls',
    ]);
    expect(host.upgrades()).toBe(0);
    await close();
  });

  it('a host that cannot be reached fails the call as a refused connection would', async () => {
    const host = await startHost();
    const url = host.url;
    await host.close();
    open.splice(0);
    const { call, overHttp, told, close } = client();
    await expect(call(`${url}/echo/x`)).rejects.toMatchObject({ code: 'ECONNREFUSED' });
    expect(overHttp).toHaveLength(0);
    expect(told).toEqual(['failed']);
    await close();
  });
});

/** A raw channel to `host`: the lines it is sent and the bytes it answers. */
async function rawChannel(host: Host, path = CALLS_PATH, protocol = CALLS_PROTOCOL) {
  return new Promise<{ socket: Socket; answered: () => string; ended: Promise<void> } | { status: number }>(
    (resolve, reject) => {
      const req = httpRequest(`${host.url}${path}`, {
        headers: { connection: 'Upgrade', upgrade: protocol },
      });
      req.on('response', (res) => {
        res.resume();
        resolve({ status: res.statusCode ?? 0 });
      });
      req.on('upgrade', (_res, socket: Socket) => {
        let text = '';
        socket.on('data', (chunk: Buffer) => {
          text += chunk.toString();
        });
        socket.on('error', () => {});
        const ended = new Promise<void>((done) => socket.once('close', () => done()));
        resolve({ socket, answered: () => text, ended });
      });
      req.on('error', reject);
      req.end();
    },
  );
}

describe('the host refuses what is not a call', () => {
  it('an upgrade to another path or protocol is a 404', async () => {
    const host = await startHost();
    expect(await rawChannel(host, '/internal/other')).toEqual({ status: 404 });
    expect(await rawChannel(host, CALLS_PATH, 'websocket')).toEqual({ status: 404 });
  });

  it.each([
    ['not JSON', 'hello\n'],
    ['not a call', '{"id":1}\n'],
    ['a path to another host', `${JSON.stringify([1, 'GET', '//evil.example/echo/x', {}, null])}\n`],
    ['a method it does not take', `${JSON.stringify([1, 'DELETE', '/echo/x', {}, null])}\n`],
    ['a header that is not text', `${JSON.stringify([1, 'GET', '/echo/x', { a: 1 }, null])}\n`],
    ['headers that are a list', `${JSON.stringify([1, 'GET', '/echo/x', ['a'], null])}\n`],
    ['a body that is not text', `${JSON.stringify([1, 'POST', '/echo/x', {}, { a: 1 }])}\n`],
    ['a line longer than a channel takes', 'x'.repeat(MAX_CALL_BYTES + 10)],
  ])('%s: the channel is closed and nothing is run', async (_, bytes) => {
    const host = await startHost();
    const channel = await rawChannel(host);
    if (!('socket' in channel)) throw new Error('no channel');
    channel.socket.write(bytes);
    await channel.ended;
    expect(host.seen).toEqual([]);
  });

  it('a well-formed call on a raw channel is answered as a line', async () => {
    const host = await startHost();
    const channel = await rawChannel(host);
    if (!('socket' in channel)) throw new Error('no channel');
    channel.socket.write(`${JSON.stringify([9, 'GET', '/echo/raw', {}, null])}\n`);
    await expect.poll(() => channel.answered()).toMatch(/\n$/);
    const [id, status, body, headers] = JSON.parse(channel.answered());
    expect([id, status, headers]).toEqual([9, 200, null]);
    expect(JSON.parse(body)).toMatchObject({ path: '/echo/raw' });
    channel.socket.destroy();
  });
});

describe('the edge refuses what is not an answer', () => {
  it('a garbled answer closes the channel and fails the calls under way as reset', async () => {
    const server = createServer();
    server.on('upgrade', (_req, socket: Socket) => {
      socket.write(
        `HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: ${CALLS_PROTOCOL}\r\n\r\n`,
      );
      socket.once('data', () => socket.write('garbage\n'));
      socket.on('error', () => {});
      socket.on('end', () => socket.destroy());
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    const { call, close } = client();
    await expect(call(`http://127.0.0.1:${port}/echo/x`)).rejects.toMatchObject({ code: 'ECONNRESET' });
    await close();
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });
});

describe('LineWriter', () => {
  it("writes a turn's lines in one write, and runs what waits for them after it", async () => {
    const writes: string[] = [];
    const writer = new LineWriter((text) => writes.push(text));
    writer.push('a');
    writer.push('b');
    writer.push('c');
    const after: string[][] = [];
    writer.afterWrite(() => after.push([...writes]));
    expect(writes).toEqual([]);
    await new Promise((resolve) => setImmediate(resolve));
    expect(writes).toEqual(['a\nb\nc\n']);
    expect(after).toEqual([['a\nb\nc\n']]);
    writer.push('d');
    await new Promise((resolve) => setImmediate(resolve));
    expect(writes).toEqual(['a\nb\nc\n', 'd\n']);
  });
});

// Every response says `X-Content-Type-Options: nosniff`; every API response, and above all those that
// carry a new key or a QR code, says `Cache-Control: no-store`, errors included.
import { once } from 'node:events';
import { createServer, type IncomingMessage, request, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { getRequestListener } from '@hono/node-server';
import { Hono } from 'hono';
import { secureHeaders } from 'hono/secure-headers';
import { beforeAll, expect, it } from 'vitest';
import { EdgeServerResponse } from '../../edge/entries/node-response.js';
import { responseHeaders, SECURITY_HEADERS } from '../../edge/http/response-headers.js';
import { newSession, newTenant, TestClock } from './admin-helpers.js';
import { useEdge } from './fixture.js';
import type { TestEdge } from './helpers.js';

const fx = useEdge({
  hosts: ['host-headers'],
  tenants: [],
  operator: true,
  edge: { now: new TestClock().now },
});
let edge: TestEdge;
let operator: string;

beforeAll(() => {
  ({ edge, operator } = fx());
});

const headersOf = async (path: string, init: RequestInit = {}) => {
  const res = await fetch(`${edge.url}${path}`, init);
  await res.arrayBuffer();
  return {
    status: res.status,
    nosniff: res.headers.get('x-content-type-options'),
    cache: res.headers.get('cache-control'),
  };
};

it('a response carrying a new key or a QR code may not be stored; nothing may be sniffed', async () => {
  const tenant = await newTenant(edge, operator, 'headers');
  const created = await headersOf('/api/session/create', {
    method: 'POST',
    headers: { 'x-api-key': tenant.adminKey, 'content-type': 'application/json' },
    body: JSON.stringify({ sessionId: 'with-key' }),
  });
  expect(created).toEqual({ status: 200, nosniff: 'nosniff', cache: 'no-store' });

  const sessionKey = await newSession(edge, tenant.adminKey, 'with-qr');
  const qr = await headersOf('/api/session/qr', { headers: { 'x-api-key': sessionKey } });
  expect(qr).toEqual({ status: 200, nosniff: 'nosniff', cache: 'no-store' });

  const created2 = await headersOf('/api/admin/keys', {
    method: 'POST',
    headers: { 'x-api-key': tenant.adminKey, 'content-type': 'application/json' },
    body: JSON.stringify({ scope: 'admin', label: 'second admin' }),
  });
  expect(created2).toEqual({ status: 201, nosniff: 'nosniff', cache: 'no-store' });
});

it('errors carry the same headers; public pages are not sniffed either', async () => {
  expect(await headersOf('/api/session/status')).toEqual({
    status: 401,
    nosniff: 'nosniff',
    cache: 'no-store',
  });
  expect(await headersOf('/api/nothing-here', { headers: { 'x-api-key': 'x' } })).toMatchObject({
    nosniff: 'nosniff',
    cache: 'no-store',
  });
  expect((await headersOf('/health')).nosniff).toBe('nosniff');
  expect((await headersOf('/openapi.json')).nosniff).toBe('nosniff');
  expect((await headersOf('/no-such-page')).nosniff).toBe('nosniff');
});

it('the Node entry sets every security header, on the API and off it', async () => {
  for (const path of ['/api/session/status', '/health']) {
    const res = await fetch(`${edge.url}${path}`);
    await res.arrayBuffer();
    for (const [name, value] of SECURITY_HEADERS)
      expect([path, name, res.headers.get(name)]).toEqual([path, name, value]);
  }
});

it("the Node entry's response writes each header once, and a route's own wins whatever its case", async () => {
  const app = new Hono()
    .get('/api/plain', (c) => c.json({ ok: true }))
    .get('/api/download', (c) => c.body('file', 200, { 'Cache-Control': 'private, no-store' }))
    .get('/api/framed', (c) => c.body(null, 204, { 'x-frame-options': 'DENY' }))
    .get('/api/preset', (c) => {
      // Set on Node's response before the app's own headers (what a Node middleware could do).
      (c.env as { outgoing: ServerResponse }).outgoing.setHeader('X-Frame-Options', 'DENY');
      return c.json({});
    })
    .get('/page', (c) => c.text('page'));
  const server = createServer({ ServerResponse: EdgeServerResponse }, getRequestListener(app.fetch));
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  const sentHeaders = async (path: string) => {
    const req = request({ host: '127.0.0.1', port, path });
    req.end();
    const [res] = (await once(req, 'response')) as [IncomingMessage];
    res.resume();
    await once(res, 'end');
    // Each header's values as sent: one written twice has two here (fetch would join them).
    return { status: res.statusCode, headers: res.headersDistinct };
  };
  const valuesOf = (headers: NodeJS.Dict<string[]>, name: string) => headers[name] ?? [];
  try {
    const plain = await sentHeaders('/api/plain');
    expect(plain.status).toBe(200);
    for (const [name, value] of SECURITY_HEADERS)
      expect([name, valuesOf(plain.headers, name.toLowerCase())]).toEqual([name, [value]]);
    expect(valuesOf(plain.headers, 'cache-control')).toEqual(['no-store']);
    expect(valuesOf(plain.headers, 'content-type')).toEqual(['application/json']);
    expect(valuesOf(plain.headers, 'content-length')).toEqual(['11']);

    const download = await sentHeaders('/api/download');
    expect(valuesOf(download.headers, 'cache-control')).toEqual(['private, no-store']);
    const framed = await sentHeaders('/api/framed');
    expect(framed.status).toBe(204);
    expect(valuesOf(framed.headers, 'x-frame-options')).toEqual(['DENY']);

    const preset = await sentHeaders('/api/preset');
    expect(valuesOf(preset.headers, 'x-frame-options')).toEqual(['DENY']);
    expect(valuesOf(preset.headers, 'cache-control')).toEqual(['no-store']);

    const page = await sentHeaders('/page');
    expect(valuesOf(page.headers, 'x-content-type-options')).toEqual(['nosniff']);
    expect(valuesOf(page.headers, 'cache-control')).toEqual([]);
  } finally {
    server.close();
  }
});

it('the middleware (Workers and Deno) sets the same headers, without overriding what a route set', async () => {
  const app = new Hono()
    .use(responseHeaders())
    .get('/api/plain', (c) => c.json({}))
    .get('/api/download', (c) => c.body('file', 200, { 'cache-control': 'private, no-store' }))
    .get('/page', (c) => c.text('page'));
  const plain = await app.request('/api/plain');
  for (const [name, value] of SECURITY_HEADERS)
    expect([name, plain.headers.get(name)]).toEqual([name, value]);
  expect(plain.headers.get('cache-control')).toBe('no-store');
  expect((await app.request('/api/download')).headers.get('cache-control')).toBe('private, no-store');
  const page = await app.request('/page');
  expect(page.headers.get('x-content-type-options')).toBe('nosniff');
  expect(page.headers.get('cache-control')).toBeNull();
});

it("the headers are Hono's secure-headers defaults, so an upgrade that changes those shows here", async () => {
  const res = await new Hono()
    .use(secureHeaders())
    .get('/', (c) => c.text(''))
    .request('/');
  const hono = [...res.headers].filter(([name]) => name !== 'content-type');
  const ours = SECURITY_HEADERS.map(([name, value]) => [name.toLowerCase(), value]);
  expect(ours.sort()).toEqual(hono.sort());
});

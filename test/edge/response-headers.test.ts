// Every response says `X-Content-Type-Options: nosniff`; every API response, and above all those that
// carry a new key or a QR code, says `Cache-Control: no-store`, errors included.
import { beforeAll, expect, it } from 'vitest';
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

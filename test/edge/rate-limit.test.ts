// Rate limits through the edge, on the real database: repeated failed authentication from one client
// address, and sends per session and per tenant. Each answers 429 RATE_LIMITED with Retry-After, and
// leaves everyone else alone. Time is the edge's injected clock, moved by hand.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { clientAddressOf, throttleKeyOf } from '../../edge/auth/client-address.js';
import type { EdgeContext } from '../../edge/context.js';
import { generateApiKey } from '../../shared/api-key.js';
import { useEdge } from './fixture.js';
import {
  call,
  createKey,
  createSessionRow,
  createTenant,
  expectError,
  startTestEdge,
  type TestEdge,
} from './helpers.js';
import { countingLookup, manualClock } from './query-log.js';
import type { StandInHost } from './stand-in-host.js';

// Each group starts its own edge, with the limits it tests.
const fx = useEdge({ hosts: ['host-rate-limit'], tenants: ['limited'], edge: false });
let host: StandInHost;
let tenant: string;

beforeAll(() => {
  ({ host, tenantId: tenant } = fx());
});

let sessions = 0;
async function sessionKey(tenantId = tenant): Promise<string> {
  const { db } = fx();
  const sessionId = await createSessionRow(db, { tenantId, name: `rl${++sessions}`, hostId: host.id });
  return createKey(db, 'session', { tenantId, sessionId });
}

async function expectRateLimited(response: Response, retryAfter: number) {
  const body = await expectError(
    response,
    429,
    'RATE_LIMITED',
    'Terlalu banyak permintaan. Coba lagi nanti.',
  );
  expect(response.headers.get('retry-after')).toBe(String(retryAfter));
  return body;
}

describe('failed authentication per client address', () => {
  const LIMIT = 5;
  const BLOCK_SECONDS = 30;
  const clock = manualClock();
  const lookups = countingLookup();
  let edge: TestEdge;

  beforeAll(async () => {
    // Behind a proxy of "ours" that names the client in x-test-client, so one test can be many clients.
    edge = await startTestEdge(fx().db, {
      now: clock.now,
      keyLookup: lookups.lookup,
      clientAddress: { header: 'x-test-client' },
      rateLimits: { failedAuth: { limit: LIMIT, windowSeconds: 60, blockSeconds: BLOCK_SECONDS } },
    });
  });

  afterAll(async () => {
    await edge?.close();
  });

  const from = (client: string, key: string) =>
    call(edge.url, '/api/session/status', { key, headers: { 'x-test-client': client } });
  const badKey = async () => (await generateApiKey('session')).key;

  it('answers 403 up to the limit, then 429 with Retry-After for the rest of the block', async () => {
    const client = '198.51.100.1';
    for (let i = 0; i < LIMIT; i++) {
      await expectError(await from(client, await badKey()), 403, 'INVALID_API_KEY');
    }
    await expectRateLimited(await from(client, await badKey()), BLOCK_SECONDS);
    // Junk that fails on its face counts the same, and is 429 too while blocked.
    await expectRateLimited(await from(client, 'abc'), BLOCK_SECONDS);
    clock.advance(10_000);
    await expectRateLimited(await from(client, await badKey()), BLOCK_SECONDS - 10);
    // No key is not a failed guess: still the plain 401.
    await expectError(
      await call(edge.url, '/api/session/status', { headers: { 'x-test-client': client } }),
      401,
      'MISSING_API_KEY',
    );
    // After the block, the address starts afresh.
    clock.advance((BLOCK_SECONDS - 10) * 1000);
    await expectError(await from(client, await badKey()), 403, 'INVALID_API_KEY');
  });

  it('makes a blocked address cost no database look-ups for keys not known to be real', async () => {
    const client = '198.51.100.2';
    for (let i = 0; i <= LIMIT; i++) await from(client, await badKey());
    const calls = lookups.calls();
    for (let i = 0; i < 20; i++) await expectRateLimited(await from(client, await badKey()), BLOCK_SECONDS);
    expect(lookups.calls()).toBe(calls);
    clock.advance(BLOCK_SECONDS * 1000);
  });

  it('leaves other clients alone: their good keys work and their bad keys get the plain 403', async () => {
    const blocked = '198.51.100.3';
    const other = '203.0.113.9';
    const good = await sessionKey();
    for (let i = 0; i <= LIMIT; i++) await from(blocked, await badKey());
    await expectRateLimited(await from(blocked, await badKey()), BLOCK_SECONDS);
    expect((await from(other, good)).status).toBe(200);
    await expectError(await from(other, await badKey()), 403, 'INVALID_API_KEY');
    clock.advance(BLOCK_SECONDS * 1000);
  });

  it('keeps working for a real key from the blocked address itself (one bad client behind a shared NAT)', async () => {
    const shared = '198.51.100.4';
    const inUse = await sessionKey();
    const admin = await createKey(fx().db, 'admin', { tenantId: tenant });
    const create = () =>
      call(edge.url, '/api/session/create', { key: admin, json: {}, headers: { 'x-test-client': shared } });
    expect((await from(shared, inUse)).status).toBe(200);
    expect((await create()).status).toBe(200);
    for (let i = 0; i <= LIMIT; i++) await from(shared, await badKey());
    await expectRateLimited(await from(shared, await badKey()), BLOCK_SECONDS);
    // The admin's own writes invalidate its tenant's cached keys; they stay known, so it keeps working.
    expect((await create()).status).toBe(200);
    expect((await create()).status).toBe(200);
    // Known to be real, so checked as usual, even once its cache entry is stale and it needs the database.
    expect((await from(shared, inUse)).status).toBe(200);
    clock.advance(5_000);
    const calls = lookups.calls();
    expect((await from(shared, inUse)).status).toBe(200);
    expect(lookups.calls()).toBe(calls + 1);
    // The price of the block: a key this edge has never seen waits it out (nothing tells it from a guess).
    const fresh = await sessionKey();
    await expectRateLimited(await from(shared, fresh), BLOCK_SECONDS - 5);
    clock.advance((BLOCK_SECONDS - 5) * 1000);
    expect((await from(shared, fresh)).status).toBe(200);
  });

  it('counts over a sliding window: failures spread thinner than the limit never block', async () => {
    const client = '198.51.100.5';
    for (let i = 0; i < LIMIT * 3; i++) {
      await expectError(await from(client, await badKey()), 403, 'INVALID_API_KEY');
      clock.advance(60_000 / LIMIT);
    }
  });

  it('groups an IPv6 client by its /64', async () => {
    for (let i = 0; i <= LIMIT; i++) {
      const response = await from(`2001:db8:1:2::${(i + 1).toString(16)}`, await badKey());
      expect(response.status).toBe(i < LIMIT ? 403 : 429);
    }
    await expectRateLimited(await from('2001:db8:1:2:ffff::1', await badKey()), BLOCK_SECONDS);
    await expectError(await from('2001:db8:1:3::1', await badKey()), 403, 'INVALID_API_KEY');
    clock.advance(BLOCK_SECONDS * 1000);
  });
});

describe('where the client address comes from', () => {
  it('is the socket by default: X-Forwarded-For is not trusted unless configured', async () => {
    const edge = await startTestEdge(fx().db, { rateLimits: { failedAuth: { limit: 2 } } });
    try {
      const statuses: number[] = [];
      for (let i = 0; i < 4; i++) {
        const response = await call(edge.url, '/api/session/status', {
          key: (await generateApiKey('session')).key,
          // A client trying to look like a new one each time.
          headers: { 'x-forwarded-for': `192.0.2.${i + 1}` },
        });
        statuses.push(response.status);
      }
      expect(statuses).toEqual([403, 403, 429, 429]);
    } finally {
      await edge.close();
    }
  });

  it('takes the configured number of hops from the right of a forwarded list, never what the client wrote', () => {
    const request = (headers: Record<string, string>) =>
      ({ req: { header: (name: string) => headers[name] } }) as unknown as EdgeContext;
    const oneProxy = clientAddressOf({ header: 'x-forwarded-for', hops: 1 }, () => '10.0.0.1');
    // The client wrote the first entry; our proxy appended the address it saw.
    expect(oneProxy(request({ 'x-forwarded-for': '1.2.3.4, 203.0.113.7' }))).toBe('203.0.113.7');
    const twoProxies = clientAddressOf({ header: 'x-forwarded-for', hops: 2 }, () => '10.0.0.1');
    expect(twoProxies(request({ 'x-forwarded-for': '1.2.3.4, 203.0.113.7, 10.0.0.9' }))).toBe('203.0.113.7');
    // Too few entries (the request skipped the proxies), missing, or not an address: the socket's peer.
    expect(twoProxies(request({ 'x-forwarded-for': '203.0.113.7' }))).toBe('10.0.0.1');
    expect(oneProxy(request({}))).toBe('10.0.0.1');
    expect(oneProxy(request({ 'x-forwarded-for': 'evil' }))).toBe('10.0.0.1');
    // Workers: no socket, and no header means no address (not throttled rather than all lumped together).
    expect(clientAddressOf({ header: 'cf-connecting-ip', hops: 1 })(request({}))).toBeUndefined();
  });

  it('names addresses as the throttle keys them', () => {
    expect(throttleKeyOf('203.0.113.7')).toBe('203.0.113.7');
    expect(throttleKeyOf('::ffff:203.0.113.7')).toBe('203.0.113.7');
    expect(throttleKeyOf('2001:DB8:0:0:1::1')).toBe('2001:db8:0:0::/64');
    expect(throttleKeyOf('[2001:db8::1]:443')).toBe('2001:db8:0:0::/64');
    expect(throttleKeyOf('fe80::1%eth0')).toBe('fe80:0:0:0::/64');
    expect(throttleKeyOf('::1')).toBe('0:0:0:0::/64');
    for (const junk of ['', 'evil', '1.2.3.256', '1:2:3', '1::2::3', 'g::1']) {
      expect(throttleKeyOf(junk)).toBeUndefined();
    }
  });
});

describe('sends per session and per tenant', () => {
  const clock = manualClock();
  let edge: TestEdge;
  const message = { to: '6281234567890', message: 'hi' };
  const send = (key: string) => call(edge.url, '/api/send', { key, json: message });

  beforeAll(async () => {
    edge = await startTestEdge(fx().db, {
      now: clock.now,
      rateLimits: { sendPerSession: { perSecond: 2, burst: 3 }, sendPerTenant: { perSecond: 5, burst: 5 } },
    });
  });

  afterAll(async () => {
    await edge?.close();
  });

  it('limits a session to its burst, then its rate, without touching another session', async () => {
    const [first, second] = [await sessionKey(), await sessionKey()];
    for (let i = 0; i < 3; i++) expect((await send(first)).status).toBe(200);
    const body = await expectRateLimited(await send(first), 1);
    expect(body.details).toEqual({ limit: 'session' });
    // Refused sends reach no host and take no token.
    expect(host.calls.filter((c) => c.action === 'send')).toHaveLength(3);
    expect((await send(second)).status).toBe(200);
    // 2 a second: one token back after 500 ms.
    clock.advance(500);
    expect((await send(first)).status).toBe(200);
    await expectRateLimited(await send(first), 1);
    clock.advance(5_000);
  });

  it("limits a tenant across its sessions, without touching another tenant's", async () => {
    const { db } = fx();
    const keys = await Promise.all(Array.from({ length: 3 }, () => sessionKey()));
    const [a, b, c] = keys as [string, string, string];
    const otherTenant = await createTenant(db, { name: 'unlimited' });
    const outsider = await sessionKey(otherTenant);
    // 5 for the tenant: 3 from a (its own burst), 2 from b.
    for (const key of [a, a, a, b, b]) expect((await send(key)).status).toBe(200);
    // c has its own full bucket, but the tenant has none left.
    const body = await expectRateLimited(await send(c), 1);
    expect(body.details).toEqual({ limit: 'tenant' });
    expect((await send(outsider)).status).toBe(200);
    // 5 a second for the tenant: one back after 200 ms.
    clock.advance(200);
    expect((await send(c)).status).toBe(200);
    await expectRateLimited(await send(c), 1);
    clock.advance(5_000);
  });

  it('does not count other routes as sends', async () => {
    const key = await sessionKey();
    for (let i = 0; i < 10; i++)
      expect((await call(edge.url, '/api/session/status', { key })).status).toBe(200);
    for (let i = 0; i < 3; i++) expect((await send(key)).status).toBe(200);
    clock.advance(5_000);
  });
});

// Bad input to the webhook routes: every way a URL can be unfit (not https, a private or loopback
// address, the cloud metadata address, a name that resolves inside the network or not at all), unknown
// sessions and event types, duplicates; each refused with its code and nothing written. Also the edge
// without WEBHOOK_SECRET_KEY, and the one that allows private URLs (the sandbox).
import { beforeAll, describe, expect, it } from 'vitest';
import { resolveWithDns } from '../../edge/entries/node.js';
import type { WebhookSecretResponse } from '../../shared/webhook-schemas.js';
import { expectUnchanged, ok } from './admin-helpers.js';
import { PUBLIC_ADDRESS, sessionWithKey, webhookConfig } from './event-helpers.js';
import { useEdge, withEdge } from './fixture.js';
import { call, expectError, type TestEdge } from './helpers.js';

/** What the test resolver knows; any other name does not resolve. */
const DNS: Record<string, string[]> = {
  'hooks.example.com': [PUBLIC_ADDRESS],
  'v6.example.com': ['2606:4700::1111'],
  'inside.example.com': ['10.1.2.3'],
  'metadata.example.com': ['169.254.169.254'],
  'partly-inside.example.com': [PUBLIC_ADDRESS, '127.0.0.1'],
  'v6-inside.example.com': ['fd00::1'],
};
const resolved: string[] = [];
const resolveHost = async (name: string) => {
  resolved.push(name);
  const found = DNS[name];
  if (!found) throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${name}`), { code: 'ENOTFOUND' });
  return found;
};

const fx = useEdge({
  hosts: [],
  tenants: ['tenant', 'neighbour'],
  edge: { webhooks: webhookConfig(), resolveHost },
});
let edge: TestEdge;
let admin: string;
let existing: WebhookSecretResponse['webhook'];

beforeAll(async () => {
  ({ edge, admin } = fx());
  await sessionWithKey(fx().db, fx().tenantId, 'one');
  await sessionWithKey(fx().db, fx().tenant('neighbour').id, 'theirs');
  existing = (
    await ok<WebhookSecretResponse>(
      edge,
      '/api/admin/webhooks',
      { key: admin, json: { url: 'https://hooks.example.com/taken', sessionId: 'one' } },
      201,
    )
  ).webhook;
});

const unchanged = (request: () => Promise<Response>) => expectUnchanged(fx().db, request);
const create = (json: unknown, key = admin) =>
  unchanged(() => call(edge.url, '/api/admin/webhooks', { key, json, method: 'POST' }));

const URL_CASES: [string, string, string][] = [
  ['plain http', 'http://hooks.example.com/in', 'WEBHOOK_URL_NOT_HTTPS'],
  ['ftp', 'ftp://hooks.example.com/in', 'WEBHOOK_URL_NOT_HTTPS'],
  ['a private IPv4 address', 'https://10.0.0.7/in', 'WEBHOOK_URL_PRIVATE'],
  ['loopback', 'https://127.0.0.1/in', 'WEBHOOK_URL_PRIVATE'],
  ['loopback written as a number', 'https://2130706433/in', 'WEBHOOK_URL_PRIVATE'],
  ['localhost', 'https://localhost/in', 'WEBHOOK_URL_PRIVATE'],
  ['a .internal name', 'https://api.internal/in', 'WEBHOOK_URL_PRIVATE'],
  ['a name without a dot', 'https://intranet/in', 'WEBHOOK_URL_PRIVATE'],
  ['the cloud metadata address', 'https://169.254.169.254/latest/meta-data/', 'WEBHOOK_URL_PRIVATE'],
  ['IPv6 loopback', 'https://[::1]/in', 'WEBHOOK_URL_PRIVATE'],
  ['IPv4 loopback inside IPv6', 'https://[::ffff:127.0.0.1]/in', 'WEBHOOK_URL_PRIVATE'],
  ['a unique-local IPv6 address', 'https://[fd12:3456::1]/in', 'WEBHOOK_URL_PRIVATE'],
  ['a name that resolves to a private address', 'https://inside.example.com/in', 'WEBHOOK_URL_PRIVATE'],
  ['a name that resolves to the metadata address', 'https://metadata.example.com/', 'WEBHOOK_URL_PRIVATE'],
  [
    'a name with one private address among public ones',
    'https://partly-inside.example.com/',
    'WEBHOOK_URL_PRIVATE',
  ],
  ['a name that resolves to a private IPv6 address', 'https://v6-inside.example.com/', 'WEBHOOK_URL_PRIVATE'],
  ['a name that does not resolve', 'https://nowhere.example.com/in', 'WEBHOOK_URL_INVALID'],
  ['no URL at all', 'hooks.example.com/in', 'WEBHOOK_URL_INVALID'],
  ['an empty string', '', 'WEBHOOK_URL_INVALID'],
  ['credentials in the URL', 'https://user:secret@hooks.example.com/in', 'WEBHOOK_URL_INVALID'],
  ['a fragment', 'https://hooks.example.com/in#part', 'WEBHOOK_URL_INVALID'],
  ['an overlong URL', `https://hooks.example.com/${'a'.repeat(2048)}`, 'WEBHOOK_URL_INVALID'],
];

describe('POST /api/admin/webhooks', () => {
  it.each(URL_CASES)('400 for %s', async (_name, url, code) => {
    const body = await expectError(await create({ url }), 400, code);
    expect(body.details).toEqual([{ path: 'url', message: expect.any(String) }]);
  });

  it('resolves the name it is given, and takes public IPv6 and address literals as they are', async () => {
    resolved.length = 0;
    await ok(edge, '/api/admin/webhooks', { key: admin, json: { url: 'https://v6.example.com/in' } }, 201);
    await ok(edge, '/api/admin/webhooks', { key: admin, json: { url: `https://${PUBLIC_ADDRESS}/in` } }, 201);
    await ok(edge, '/api/admin/webhooks', { key: admin, json: { url: 'https://[2606:4700::1111]/in' } }, 201);
    expect(resolved).toEqual(['v6.example.com']);
  });

  it.each([
    ['no body', undefined],
    ['no url', { events: ['message.received'] }],
    ['a url that is a number', { url: 42 }],
    [
      'an unknown event type',
      { url: 'https://hooks.example.com/a', events: ['message.received', 'message.nope'] },
    ],
    ['an empty list of event types', { url: 'https://hooks.example.com/a', events: [] }],
    ['event types as a string', { url: 'https://hooks.example.com/a', events: 'message.received' }],
    ['a sessionId that cannot be one', { url: 'https://hooks.example.com/a', sessionId: 'a b' }],
    [
      'a description over 500 characters',
      { url: 'https://hooks.example.com/a', description: 'd'.repeat(501) },
    ],
    ['a description with a newline', { url: 'https://hooks.example.com/a', description: 'two\nlines' }],
  ])('400 VALIDATION_ERROR for %s', async (_name, json) => {
    await expectError(await create(json), 400, 'VALIDATION_ERROR');
  });

  it("404 SESSION_NOT_FOUND, one body, for an unknown session and another tenant's", async () => {
    const unknown = await create({ url: 'https://hooks.example.com/s', sessionId: 'never-was' });
    const theirs = await create({ url: 'https://hooks.example.com/s', sessionId: 'theirs' });
    expect(unknown.status).toBe(404);
    expect(await theirs.text()).toBe(await unknown.text());
  });

  it('409 WEBHOOK_EXISTS for a URL the tenant has for the same sessions, however it is spelt', async () => {
    await expectError(
      await create({ url: 'https://hooks.example.com/taken', sessionId: 'one' }),
      409,
      'WEBHOOK_EXISTS',
    );
    await expectError(
      await create({ url: 'https://HOOKS.example.com:443/taken', sessionId: 'one' }),
      409,
      'WEBHOOK_EXISTS',
    );
    await ok(
      edge,
      '/api/admin/webhooks',
      { key: admin, json: { url: 'https://hooks.example.com/twice' } },
      201,
    );
    await expectError(await create({ url: 'https://hooks.example.com/twice' }), 409, 'WEBHOOK_EXISTS');
  });
});

describe('PATCH /api/admin/webhooks/:id', () => {
  const patch = (json: unknown, id = existing.id) =>
    unchanged(() => call(edge.url, `/api/admin/webhooks/${id}`, { key: admin, method: 'PATCH', json }));

  it.each(URL_CASES.filter((_, i) => i % 3 === 0))(
    'checks a new URL as creation does: %s',
    async (_n, url, code) => {
      await expectError(await patch({ url }), 400, code);
    },
  );

  it('refuses unknown event types and sessions, and bad shapes', async () => {
    await expectError(await patch({ events: ['nope'] }), 400, 'VALIDATION_ERROR');
    await expectError(await patch({ enabled: 'yes' }), 400, 'VALIDATION_ERROR');
    await expectError(await patch({ url: null }), 400, 'VALIDATION_ERROR');
    await expectError(await patch({ sessionId: 'theirs' }), 404, 'SESSION_NOT_FOUND');
  });
});

describe('ids and queries', () => {
  it.each([
    ['GET', ''],
    ['PATCH', ''],
    ['DELETE', ''],
    ['POST', '/rotate-secret'],
    ['POST', '/test'],
    ['GET', '/deliveries'],
    ['POST', '/replay'],
  ])('404 WEBHOOK_NOT_FOUND for an id that cannot be one: %s %s', async (method, suffix) => {
    const json =
      method === 'PATCH' ? {} : suffix === '/replay' ? { since: '2026-01-01T00:00:00Z' } : undefined;
    await expectError(
      await unchanged(() =>
        call(edge.url, `/api/admin/webhooks/not-a-uuid${suffix}`, { key: admin, method, json }),
      ),
      404,
      'WEBHOOK_NOT_FOUND',
    );
  });

  it.each([
    ['neither', {}],
    ['both', { eventId: 'evt_01JH8Z6Q8W0Y3X2V1T0S9R8Q7P', since: '2026-01-01T00:00:00Z' }],
    ['a since that is no time', { since: 'yesterday' }],
    ['a since without a zone', { since: '2026-01-01T00:00:00' }],
  ])('replay: 400 VALIDATION_ERROR for %s', async (_name, json) => {
    await expectError(
      await unchanged(() =>
        call(edge.url, `/api/admin/webhooks/${existing.id}/replay`, { key: admin, json }),
      ),
      400,
      'VALIDATION_ERROR',
    );
  });

  it.each([-1, 604_801, 1.5, '60'])(
    'rotate-secret: 400 VALIDATION_ERROR for overlapSeconds %s',
    async (overlapSeconds) => {
      await expectError(
        await unchanged(() =>
          call(edge.url, `/api/admin/webhooks/${existing.id}/rotate-secret`, {
            key: admin,
            json: { overlapSeconds },
          }),
        ),
        400,
        'VALIDATION_ERROR',
      );
    },
  );

  it.each(['abc', '0', '-1', '1.5'])('deliveries: 400 VALIDATION_ERROR for the cursor %s', async (cursor) => {
    await expectError(
      await call(edge.url, `/api/admin/webhooks/${existing.id}/deliveries?cursor=${cursor}`, { key: admin }),
      400,
      'VALIDATION_ERROR',
    );
  });

  it('listing: 400 for a cursor that is not an id, an empty page for another tenant’s', async () => {
    await expectError(
      await call(edge.url, '/api/admin/webhooks?cursor=nope', { key: admin }),
      400,
      'VALIDATION_ERROR',
    );
    const page = await ok(edge, `/api/admin/webhooks?cursor=${existing.id}`, {
      key: fx().tenant('neighbour').admin,
    });
    expect(page).toEqual({ success: true, webhooks: [], nextCursor: null });
  });
});

describe('an edge without WEBHOOK_SECRET_KEY', () => {
  it('cannot store secrets: 500, with the log saying what is missing, and nothing written', async () => {
    await withEdge(fx().db, { webhooks: { allowPrivate: false }, resolveHost }, async (bare) => {
      const body = await expectError(
        await unchanged(() =>
          call(bare.url, '/api/admin/webhooks', { key: admin, json: { url: 'https://hooks.example.com/x' } }),
        ),
        500,
        'INTERNAL_ERROR',
      );
      expect(body.error).toBe('Terjadi kesalahan internal');
      await expectError(
        await unchanged(() =>
          call(bare.url, `/api/admin/webhooks/${existing.id}/rotate-secret`, { key: admin, method: 'POST' }),
        ),
        500,
        'INTERNAL_ERROR',
      );
      const errors = bare.logger.lines.filter((l) => l.level === 'error');
      expect(errors).toHaveLength(2);
      for (const line of errors)
        expect(JSON.stringify(line.fields)).toContain('WEBHOOK_SECRET_KEY is missing');
      // Reading needs no key.
      await ok(bare, `/api/admin/webhooks/${existing.id}`, { key: admin });
    });
  });
});

describe('an edge that allows private URLs (the sandbox)', () => {
  it('takes plain http and private addresses, and does not resolve names', async () => {
    const before = resolved.length;
    await withEdge(
      fx().db,
      { webhooks: { ...webhookConfig(), allowPrivate: true }, resolveHost },
      async (open) => {
        for (const url of [
          'http://127.0.0.1:9/hook',
          'http://localhost:3000/hook',
          'https://inside.example.com/x',
        ]) {
          await ok(open, '/api/admin/webhooks', { key: admin, json: { url } }, 201);
        }
        await expectError(
          await call(open.url, '/api/admin/webhooks', { key: admin, json: { url: 'ftp://127.0.0.1/x' } }),
          400,
          'WEBHOOK_URL_NOT_HTTPS',
        );
      },
    );
    expect(resolved.length).toBe(before);
  });
});

describe("the Node entry's resolver", () => {
  it('gives every address of a name, and rejects one that does not resolve', async () => {
    const addresses = await resolveWithDns('localhost');
    expect(addresses.length).toBeGreaterThan(0);
    expect(addresses.every((a) => a === '127.0.0.1' || a === '::1')).toBe(true);
    await expect(resolveWithDns('no-such-host.invalid')).rejects.toThrow();
  });
});

// Bad input to the tenant admin routes and to key self-service: a JSON error with the right status, and
// nothing written.
import { beforeAll, describe, expect, it } from 'vitest';
import {
  expectBareError,
  expectUnchanged,
  newKey,
  newSession,
  newTenant,
  TestClock,
} from './admin-helpers.js';
import { useEdge } from './fixture.js';
import { call, expectError, type TestEdge } from './helpers.js';

const clock = new TestClock();
const fx = useEdge({ hosts: ['host-admin-errors'], tenants: [], operator: true, edge: { now: clock.now } });
let edge: TestEdge;
let admin: string;
let sessionKey: string;
let keyId: string;

const UNKNOWN_ID = '00000000-0000-4000-8000-000000000000';

beforeAll(async () => {
  ({ edge } = fx());
  admin = (await newTenant(edge, fx().operator, 'errors')).adminKey;
  sessionKey = await newSession(edge, admin, 'existing');
  keyId = (await newKey(edge, admin, { scope: 'admin', label: 'target' })).info.id;
});

const unchanged = (request: () => Promise<Response>) => expectUnchanged(fx().db, request);
const post = (path: string, init: Parameters<typeof call>[2] = {}) =>
  unchanged(() => call(edge.url, path, { key: admin, method: 'POST', ...init }));
const get = (path: string) => unchanged(() => call(edge.url, path, { key: admin }));

const inAnHour = () => new Date(clock.now().getTime() + 3_600_000).toISOString();

describe('POST /api/admin/keys', () => {
  it.each([
    ['no body', undefined],
    ['an empty object', {}],
    ['no scope', { label: 'x' }],
    ['an operator scope', { scope: 'operator', label: 'x' }],
    ['an unknown scope', { scope: 'root', label: 'x' }],
    ['a session key without a session', { scope: 'session', label: 'x' }],
    ['an admin key naming a session', { scope: 'admin', sessionId: 'existing', label: 'x' }],
    ['a sessionId that cannot be one', { scope: 'session', sessionId: 'a b', label: 'x' }],
    ['no label', { scope: 'admin' }],
    ['an empty label', { scope: 'admin', label: '' }],
    ['a label over 100 characters', { scope: 'admin', label: 'l'.repeat(101) }],
    ['a label with a newline', { scope: 'admin', label: 'two\nlines' }],
    ['a numeric label', { scope: 'admin', label: 5 }],
    ['an expiry that is no date', { scope: 'admin', label: 'x', expiresAt: 'tomorrow' }],
    ['an expiry without a time zone', { scope: 'admin', label: 'x', expiresAt: '2099-01-01T00:00:00' }],
    ['an expiry as a number', { scope: 'admin', label: 'x', expiresAt: 4102444800000 }],
    ['an expiry in the past', { scope: 'admin', label: 'x', expiresAt: '2001-01-01T00:00:00Z' }],
  ])('400 VALIDATION_ERROR for %s', async (_name, json) => {
    const body = await expectError(await post('/api/admin/keys', { json }), 400, 'VALIDATION_ERROR');
    expect(Array.isArray(body.details)).toBe(true);
  });

  it('400 for an expiry equal to now, judged by the app clock', async () => {
    const response = await post('/api/admin/keys', {
      json: { scope: 'admin', label: 'x', expiresAt: clock.now().toISOString() },
    });
    const body = await expectError(response, 400, 'VALIDATION_ERROR');
    expect(body.details).toEqual([{ path: 'expiresAt', message: 'must be in the future' }]);
  });

  it('404 SESSION_NOT_FOUND for a session the tenant does not have', async () => {
    const response = await post('/api/admin/keys', {
      json: { scope: 'session', sessionId: 'missing', label: 'x', expiresAt: inAnHour() },
    });
    await expectBareError(response, 404, 'SESSION_NOT_FOUND');
  });

  it('400 INVALID_JSON, 415 and 413 for bodies that are no JSON object', async () => {
    const json = { 'content-type': 'application/json' };
    await expectError(
      await post('/api/admin/keys', { body: '{"scope":', headers: json }),
      400,
      'INVALID_JSON',
    );
    const form = { 'content-type': 'application/x-www-form-urlencoded' };
    await expectError(
      await post('/api/admin/keys', { body: 'scope=admin', headers: form }),
      415,
      'UNSUPPORTED_MEDIA_TYPE',
    );
    const big = { scope: 'admin', label: 'x', padding: 'p'.repeat(600 * 1024) };
    await expectError(await post('/api/admin/keys', { json: big }), 413, 'BODY_TOO_LARGE');
  });
});

describe('re-roll bodies', () => {
  const paths = () => [`/api/admin/keys/${keyId}/reroll`, '/api/keys/self/reroll'];

  it.each([
    ['no body', undefined],
    ['no overlap', {}],
    ['a negative overlap', { overlapSeconds: -1 }],
    ['an overlap over 7 days', { overlapSeconds: 7 * 24 * 3600 + 1 }],
    ['a fractional overlap', { overlapSeconds: 1.5 }],
    ['an overlap as a string', { overlapSeconds: '60' }],
    ['a null overlap', { overlapSeconds: null }],
  ])('400 VALIDATION_ERROR for %s', async (_name, json) => {
    for (const path of paths()) {
      const key = path.includes('self') ? sessionKey : admin;
      const response = await unchanged(() => call(edge.url, path, { key, method: 'POST', json }));
      await expectError(response, 400, 'VALIDATION_ERROR');
    }
  });

  it('400 INVALID_JSON for malformed JSON', async () => {
    for (const path of paths()) {
      const key = path.includes('self') ? sessionKey : admin;
      const response = await unchanged(() =>
        call(edge.url, path, {
          key,
          method: 'POST',
          body: '{overlap',
          headers: { 'content-type': 'application/json' },
        }),
      );
      await expectError(response, 400, 'INVALID_JSON');
    }
  });
});

describe('unknown ids', () => {
  it.each([
    ['GET', (id: string) => `/api/admin/keys/${id}`],
    ['POST', (id: string) => `/api/admin/keys/${id}/revoke`],
    ['POST', (id: string) => `/api/admin/keys/${id}/reroll`],
  ] as const)(
    '404 KEY_NOT_FOUND on %s %s, the same body for unknown and malformed ids',
    async (method, path) => {
      const bodies: string[] = [];
      for (const id of [UNKNOWN_ID, 'not-a-uuid', 'ff', UNKNOWN_ID.toUpperCase().replace('4000', '4001')]) {
        const response = await unchanged(() =>
          call(edge.url, path(encodeURIComponent(id)), {
            key: admin,
            method,
            json: method === 'POST' ? { overlapSeconds: 0 } : undefined,
          }),
        );
        await expectBareError(response.clone(), 404, 'KEY_NOT_FOUND');
        bodies.push(await response.text());
      }
      expect(new Set(bodies).size).toBe(1);
    },
  );

  it('404 SESSION_NOT_FOUND for an unknown or impossible session name', async () => {
    for (const name of ['missing', 'a.b', 'x'.repeat(65)]) {
      await expectBareError(await get(`/api/admin/sessions/${name}`), 404, 'SESSION_NOT_FOUND');
    }
  });
});

describe('listing queries', () => {
  it.each([
    '/api/admin/keys?limit=0',
    '/api/admin/keys?limit=101',
    '/api/admin/keys?cursor=nope',
    '/api/keys?limit=-1',
    '/api/admin/sessions?limit=x',
    '/api/admin/sessions?cursor=42',
    '/api/admin/audit?order=sideways',
    '/api/admin/audit?cursor=abc',
    '/api/admin/audit?cursor=0',
    '/api/admin/audit?limit=1000',
  ])('400 VALIDATION_ERROR for %s', async (path) => {
    await expectError(await get(path), 400, 'VALIDATION_ERROR');
  });
});

describe('methods', () => {
  it.each([
    ['GET', '/api/admin/keys/00000000-0000-4000-8000-000000000000/revoke', 'POST'],
    ['PUT', '/api/admin/keys', 'GET, POST'],
    ['DELETE', '/api/admin/keys/00000000-0000-4000-8000-000000000000', 'GET'],
    ['GET', '/api/keys/self/reroll', 'POST'],
    ['POST', '/api/admin/audit', 'GET'],
    ['POST', '/api/keys', 'GET'],
  ])('405 for %s %s', async (method, path, allow) => {
    const response = await unchanged(() => call(edge.url, path, { key: admin, method }));
    await expectError(response, 405, 'METHOD_NOT_ALLOWED');
    expect(response.headers.get('allow')?.split(', ').sort()).toEqual(allow.split(', ').sort());
  });
});

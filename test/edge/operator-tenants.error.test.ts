import { beforeAll, describe, expect, it } from 'vitest';
import { expectBareError, expectUnchanged, newTenant, TestClock } from './admin-helpers.js';
import { useEdge } from './fixture.js';
import { call, expectError, type TestEdge } from './helpers.js';

const fx = useEdge({ hosts: [], tenants: [], operator: true, edge: { now: new TestClock().now } });
let edge: TestEdge;
let operator: string;
let tenantId: string;

beforeAll(async () => {
  ({ edge, operator } = fx());
  tenantId = (await newTenant(edge, operator, 'existing')).id;
});

const unchanged = (request: () => Promise<Response>) => expectUnchanged(fx().db, request);
const createTenant = (init: Parameters<typeof call>[2]) =>
  unchanged(() => call(edge.url, '/api/operator/tenants', { key: operator, method: 'POST', ...init }));

describe('POST /api/operator/tenants refusals (nothing is written)', () => {
  it.each([
    ['no body', {}],
    ['an empty object', { json: {} }],
    ['an empty name', { json: { name: '' } }],
    ['a name of spaces', { json: { name: '   ' } }],
    ['a name over 100 characters', { json: { name: 'n'.repeat(101) } }],
    ['a name with a control character', { json: { name: 'bad\u0007name' } }],
    ['a numeric name', { json: { name: 42 } }],
    ['a null name', { json: { name: null } }],
    ['an array body', { json: [{ name: 'x' }] }],
    ['an empty body labelled JSON', { body: '', headers: { 'content-type': 'application/json' } }],
  ])('400 VALIDATION_ERROR for %s', async (_name, init) => {
    const body = await expectError(await createTenant(init), 400, 'VALIDATION_ERROR');
    expect(Array.isArray(body.details)).toBe(true);
  });

  it('400 INVALID_JSON for malformed JSON', async () => {
    const response = await createTenant({
      body: '{"name": "x"',
      headers: { 'content-type': 'application/json' },
    });
    await expectError(response, 400, 'INVALID_JSON');
  });

  it('415 for a body that is not JSON', async () => {
    const response = await createTenant({
      body: 'name=x',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
    });
    await expectError(response, 415, 'UNSUPPORTED_MEDIA_TYPE');
  });

  it('413 for an oversized body', async () => {
    await expectError(await createTenant({ json: { name: 'x'.repeat(600 * 1024) } }), 413, 'BODY_TOO_LARGE');
  });

  it('405 for a method the path does not take', async () => {
    const response = await unchanged(() =>
      call(edge.url, '/api/operator/tenants', { key: operator, method: 'DELETE' }),
    );
    await expectError(response, 405, 'METHOD_NOT_ALLOWED');
    expect(response.headers.get('allow')?.split(', ').sort()).toEqual(['GET', 'POST']);
  });
});

describe('GET /api/operator/tenants refusals', () => {
  it.each([['limit=0'], ['limit=101'], ['limit=abc'], ['limit=1.5'], ['cursor=not-a-uuid'], ['cursor=1']])(
    '400 VALIDATION_ERROR for ?%s',
    async (query) => {
      const response = await unchanged(() =>
        call(edge.url, `/api/operator/tenants?${query}`, { key: operator }),
      );
      await expectError(response, 400, 'VALIDATION_ERROR');
    },
  );

  it('gives an empty last page for a cursor that names no tenant', async () => {
    const response = await call(
      edge.url,
      '/api/operator/tenants?cursor=00000000-0000-4000-8000-000000000000',
      {
        key: operator,
      },
    );
    expect(await response.json()).toEqual({ success: true, tenants: [], nextCursor: null });
  });
});

describe('suspend and resume refusals', () => {
  it.each(['suspend', 'resume'])(
    '404 TENANT_NOT_FOUND for %s of an unknown or malformed id, alike',
    async (action) => {
      const bodies: string[] = [];
      for (const id of ['00000000-0000-4000-8000-000000000000', 'not-a-uuid', "1'; drop table tenants; --"]) {
        const response = await unchanged(() =>
          call(edge.url, `/api/operator/tenants/${encodeURIComponent(id)}/${action}`, {
            key: operator,
            method: 'POST',
          }),
        );
        await expectBareError(response.clone(), 404, 'TENANT_NOT_FOUND');
        bodies.push(await response.text());
      }
      expect(new Set(bodies).size).toBe(1);
    },
  );

  it('405 for GET, pointing at POST', async () => {
    const response = await unchanged(() =>
      call(edge.url, `/api/operator/tenants/${tenantId}/suspend`, { key: operator, method: 'GET' }),
    );
    await expectError(response, 405, 'METHOD_NOT_ALLOWED');
    expect(response.headers.get('allow')).toBe('POST');
  });
});

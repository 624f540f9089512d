import { request } from 'node:http';
import { beforeAll, describe, expect, it } from 'vitest';
import { useEdge } from './fixture.js';
import { call, expectError, expectNoDbChange, killAllHosts, type TestEdge } from './helpers.js';

const fx = useEdge({ hosts: ['host-create-errors'], tenants: ['one', 'two'] });
let edge: TestEdge;
let admin: string;
let otherAdmin: string;

beforeAll(async () => {
  ({ edge } = fx());
  admin = fx().tenant('one').admin;
  otherAdmin = fx().tenant('two').admin;
  const first = await call(edge.url, '/api/session/create', { key: admin, json: { sessionId: 'taken' } });
  expect(first.status).toBe(200);
});

const create = (init: Parameters<typeof call>[2]) =>
  call(edge.url, '/api/session/create', { key: admin, method: 'POST', ...init });

describe('POST /api/session/create refusals (nothing is written)', () => {
  it('409 SESSION_ID_TAKEN for a sessionId the tenant already has', async () => {
    const response = await expectNoDbChange(fx().db, () =>
      create({ json: { sessionId: 'taken', description: 'again' } }),
    );
    await expectError(response, 409, 'SESSION_ID_TAKEN', 'sessionId sudah digunakan');
  });

  it('while another tenant may use that sessionId', async () => {
    const response = await call(edge.url, '/api/session/create', {
      key: otherAdmin,
      json: { sessionId: 'taken' },
    });
    expect(response.status).toBe(200);
  });

  it.each([
    ['empty', ''],
    ['with a space', 'sesi baru'],
    ['with a slash', '../etc'],
    ['with a dot', 'a.b'],
    ['non-ASCII', 'sesiÄ'],
    ['65 characters', 'a'.repeat(65)],
  ])('400 INVALID_SESSION_ID for a sessionId %s', async (_name, sessionId) => {
    const response = await expectNoDbChange(fx().db, () => create({ json: { sessionId } }));
    await expectError(response, 400, 'INVALID_SESSION_ID');
  });

  it.each([
    ['unterminated object', '{"sessionId": "x"'],
    ['single quotes', "{'sessionId': 'x'}"],
    ['trailing comma', '{"sessionId": "x",}'],
    ['plain text', 'sessionId=x'],
  ])('400 INVALID_JSON for malformed JSON (%s)', async (_name, body) => {
    const response = await expectNoDbChange(fx().db, () =>
      create({ body, headers: { 'content-type': 'application/json' } }),
    );
    await expectError(response, 400, 'INVALID_JSON');
  });

  it.each([
    ['a numeric sessionId', { sessionId: 42 }],
    ['a null sessionId', { sessionId: null }],
    ['an object sessionId', { sessionId: { name: 'x' } }],
    ['a numeric description', { description: 7 }],
    ['a description over 1000 characters', { description: 'x'.repeat(1001) }],
    ['an array body', ['taken']],
    ['a string body', 'taken'],
    ['a null body', null],
  ])('400 VALIDATION_ERROR for %s', async (_name, json) => {
    const response = await expectNoDbChange(fx().db, () => create({ json }));
    const body = await expectError(response, 400, 'VALIDATION_ERROR');
    expect(Array.isArray(body.details)).toBe(true);
  });

  it('415 UNSUPPORTED_MEDIA_TYPE for a body that is not declared JSON', async () => {
    const response = await expectNoDbChange(fx().db, () =>
      create({ body: 'sessionId=form', headers: { 'content-type': 'application/x-www-form-urlencoded' } }),
    );
    await expectError(response, 415, 'UNSUPPORTED_MEDIA_TYPE');
  });

  it('413 BODY_TOO_LARGE for an oversized body, announced by Content-Length', async () => {
    const json = { sessionId: 'too-big', description: 'x'.repeat(600 * 1024) };
    const response = await expectNoDbChange(fx().db, () => create({ json }));
    await expectError(response, 413, 'BODY_TOO_LARGE');
  });

  it('413 BODY_TOO_LARGE for an oversized body streamed without Content-Length', async () => {
    // node:http rather than fetch: the edge answers before the upload ends, and fetch gives up on a
    // request whose body it could not finish sending.
    const response = await expectNoDbChange(fx().db, () =>
      postChunked(
        `${edge.url}/api/session/create`,
        { 'x-api-key': admin, 'content-type': 'application/json' },
        [
          '{"sessionId":"streamed","description":"',
          ...Array.from({ length: 8 }, () => 'x'.repeat(64 * 1024)),
          '"}',
        ],
      ),
    );
    expect(response.headers.get('content-length')).not.toBeNull();
    await expectError(response, 413, 'BODY_TOO_LARGE');
  });

  it('503 HOST_UNAVAILABLE with Retry-After when no host is alive, and nothing is kept', async () => {
    const { db } = fx();
    const restore = await killAllHosts(db);
    try {
      const response = await expectNoDbChange(db, () => create({ json: { sessionId: 'no-host' } }));
      await expectError(response, 503, 'HOST_UNAVAILABLE');
      expect(Number(response.headers.get('retry-after'))).toBeGreaterThan(0);
    } finally {
      await restore();
    }
    // The name was not taken by the failed attempt.
    const retry = await create({ json: { sessionId: 'no-host' } });
    expect(retry.status).toBe(200);
  });

  it('405 for GET, pointing at POST', async () => {
    const response = await expectNoDbChange(fx().db, () =>
      call(edge.url, '/api/session/create', { key: admin, method: 'GET' }),
    );
    await expectError(response, 405, 'METHOD_NOT_ALLOWED');
    expect(response.headers.get('allow')).toBe('POST');
  });
});

/** POSTs `chunks` with chunked transfer encoding (no Content-Length) and returns the answer as a Response. */
function postChunked(url: string, headers: Record<string, string>, chunks: string[]): Promise<Response> {
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      { method: 'POST', headers: { ...headers, 'transfer-encoding': 'chunked' } },
      (res) => {
        const parts: Buffer[] = [];
        res.on('data', (part: Buffer) => parts.push(part));
        res.on('end', () => {
          const responseHeaders = new Headers();
          for (const [name, value] of Object.entries(res.headers)) {
            if (typeof value === 'string') responseHeaders.set(name, value);
          }
          resolve(
            new Response(Buffer.concat(parts), { status: res.statusCode ?? 0, headers: responseHeaders }),
          );
        });
      },
    );
    // The edge may close the upload once it has answered; the answer is what counts.
    req.on('error', (err) => reject(err));
    let i = 0;
    const write = () => {
      while (i < chunks.length) {
        const ok = req.write(chunks[i] ?? '');
        i += 1;
        if (!ok) {
          req.once('drain', write);
          return;
        }
      }
      req.end();
    };
    write();
  });
}

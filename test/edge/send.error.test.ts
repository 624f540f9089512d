import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { useEdge } from './fixture.js';
import { call, expectError, expectNoDbChange, type TestEdge } from './helpers.js';
import type { StandInHost } from './stand-in-host.js';

const fx = useEdge({ hosts: ['host-send-errors'] });
let edge: TestEdge;
let host: StandInHost;
let sessionKey: string;

const MISSING = 'Parameter "to" dan "message" diperlukan';

beforeAll(async () => {
  ({ edge, host } = fx());
  const created = await call(edge.url, '/api/session/create', {
    key: fx().admin,
    json: { sessionId: 'sender' },
  });
  sessionKey = ((await created.json()) as { apiKey: string }).apiKey;
});

afterEach(() => {
  // None of these reach the host. (The fixture clears its records after this.)
  expect(host.calls.filter((c) => c.action === 'send')).toEqual([]);
});

const send = (init: Parameters<typeof call>[2]) =>
  expectNoDbChange(fx().db, () => call(edge.url, '/api/send', { key: sessionKey, method: 'POST', ...init }));

describe('POST /api/send refusals (checked on the edge, nothing forwarded or written)', () => {
  it.each([
    ['an empty object', {}],
    ['no `to`', { message: 'hi' }],
    ['no `message`', { to: '6281234567890' }],
    ['an empty `to`', { to: '', message: 'hi' }],
    ['an empty `message`', { to: '6281234567890', message: '' }],
    ['null fields', { to: null, message: null }],
  ])('400 MISSING_PARAMETERS with the seed string for %s', async (_name, json) => {
    await expectError(await send({ json }), 400, 'MISSING_PARAMETERS', MISSING);
  });

  it('400 MISSING_PARAMETERS for no body at all, and for an empty body labelled JSON', async () => {
    await expectError(await send({}), 400, 'MISSING_PARAMETERS', MISSING);
    const empty = await send({ body: '', headers: { 'content-type': 'application/json' } });
    await expectError(empty, 400, 'MISSING_PARAMETERS', MISSING);
  });

  it.each([
    ['a numeric message', { to: '6281234567890', message: 42 }],
    ['an object message', { to: '6281234567890', message: { text: 'hi' } }],
    ['an array message', { to: '6281234567890', message: ['hi'] }],
    ['a boolean `to`', { to: true, message: 'hi' }],
    ['an object `to`', { to: { number: '6281234567890' }, message: 'hi' }],
    ['a message over 65536 characters', { to: '6281234567890', message: 'x'.repeat(65537) }],
    ['an array body', [{ to: '6281234567890', message: 'hi' }]],
  ])('400 VALIDATION_ERROR for %s', async (_name, json) => {
    await expectError(await send({ json }), 400, 'VALIDATION_ERROR');
  });

  it.each([
    ['letters', 'not-a-number'],
    ['too short', '1234567'],
    ['too long', '1234567890123456'],
    ['a national number with a leading 0', '081234567890'],
    ['a group JID', '120363000000000000@g.us'],
    ['a JID with a device', '6281234567890:12@s.whatsapp.net'],
    ['a negative number', -6281234567890],
    ['a fractional number', 62812345678.5],
  ])('400 INVALID_RECIPIENT for a `to` that is %s', async (_name, to) => {
    await expectError(await send({ json: { to, message: 'hi' } }), 400, 'INVALID_RECIPIENT');
  });

  it('400 INVALID_JSON for malformed JSON', async () => {
    const response = await send({
      body: '{"to": "6281234567890", "message": ',
      headers: { 'content-type': 'application/json' },
    });
    await expectError(response, 400, 'INVALID_JSON');
  });

  it('415 for a form-encoded body (what curl -d sends without a content type)', async () => {
    const response = await send({
      body: 'to=6281234567890&message=hi',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
    });
    await expectError(response, 415, 'UNSUPPORTED_MEDIA_TYPE');
  });

  it('413 BODY_TOO_LARGE for an oversized body', async () => {
    const response = await send({ json: { to: '6281234567890', message: 'x'.repeat(600 * 1024) } });
    await expectError(response, 413, 'BODY_TOO_LARGE');
  });

  it('accepts the longest message, which needs more than 64 KiB of body in UTF-8', async () => {
    const message = 'é'.repeat(65536);
    const response = await call(edge.url, '/api/send', {
      key: sessionKey,
      json: { to: '6281234567890', message },
    });
    expect(response.status).toBe(200);
    const { result } = (await response.json()) as {
      result: { key: { id: string }; message: { extendedTextMessage: { text: string } } };
    };
    expect(result.message.extendedTextMessage.text).toBe(message);
    // Queued whole, under the id the host was asked to send.
    const stored = await fx()
      .db.selectFrom('messages')
      .select('text')
      .where('id', '=', result.key.id)
      .executeTakeFirstOrThrow();
    expect(stored.text).toBe(message);
    expect(host.calls.map((c) => c.body)).toEqual([{ messageId: result.key.id, fresh: true }]);
    host.reset();
  });
});

describe('GET /api/send', () => {
  it('405 METHOD_NOT_ALLOWED pointing at POST, with or without a key', async () => {
    for (const key of [sessionKey, undefined]) {
      const response = await expectNoDbChange(fx().db, () =>
        call(edge.url, '/api/send', { method: 'GET', key }),
      );
      await expectError(response, 405, 'METHOD_NOT_ALLOWED', 'Metode tidak diizinkan. Gunakan POST.');
      expect(response.headers.get('allow')).toBe('POST');
    }
  });

  it('405 for the other methods too', async () => {
    for (const method of ['PUT', 'DELETE', 'PATCH']) {
      const response = await call(edge.url, '/api/send', { method, key: sessionKey });
      await expectError(response, 405, 'METHOD_NOT_ALLOWED');
      expect(response.headers.get('allow')).toBe('POST');
    }
  });
});

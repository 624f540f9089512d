import { OpenAPIHono } from '@hono/zod-openapi';
import { describe, expect, it } from 'vitest';
import {
  ALREADY_AUTHENTICATED_MESSAGE,
  CreateSessionBodySchema,
  CreateSessionResponseSchema,
  ErrorResponseSchema,
  HostQrResponseSchema,
  HostSendBodySchema,
  HostSessionStatusSchema,
  HostStartSessionBodySchema,
  LOGGED_OUT_MESSAGE,
  LogoutResponseSchema,
  normalizeRecipient,
  QrResponseSchema,
  SESSION_CREATED_MESSAGE,
  SendMessageBodySchema,
  SendMessageResponseSchema,
  SessionIdSchema,
  StatusResponseSchema,
} from '../../shared/schemas.js';

describe('seed strings', () => {
  it('are kept byte for byte', () => {
    expect(SESSION_CREATED_MESSAGE).toBe('Sesi berhasil dibuat. Gunakan API key untuk operasi selanjutnya.');
    expect(ALREADY_AUTHENTICATED_MESSAGE).toBe('Sudah terautentikasi');
    expect(LOGGED_OUT_MESSAGE).toBe('Berhasil logout dari sesi');
  });
});

describe('normalizeRecipient', () => {
  it.each([
    ['6281234567890', '6281234567890@s.whatsapp.net'],
    ['+6281234567890', '6281234567890@s.whatsapp.net'],
    ['+62 812-3456-7890', '6281234567890@s.whatsapp.net'],
    ['  62 812 3456 7890 ', '6281234567890@s.whatsapp.net'],
    ['12345678', '12345678@s.whatsapp.net'],
    ['123456789012345', '123456789012345@s.whatsapp.net'],
    ['6281234567890@s.whatsapp.net', '6281234567890@s.whatsapp.net'],
    [6281234567890, '6281234567890@s.whatsapp.net'],
  ])('accepts %j', (to, jid) => {
    expect(normalizeRecipient(to)).toBe(jid);
  });

  it.each([
    ['empty', ''],
    ['blank', '   '],
    ['only separators', '+ - -'],
    ['too short', '1234567'],
    ['too long', '1234567890123456'],
    ['national format (leading 0)', '081234567890'],
    ['letters', '62812abc4567'],
    ['parentheses', '+62 (812) 3456 7890'],
    ['dots', '62.812.3456.7890'],
    ['plus inside', '62+81234567890'],
    ['double plus', '++6281234567890'],
    ['unicode digits', '٦٢٨١٢٣٤٥٦٧٨٩٠'],
    ['group JID', '120363025246125486@g.us'],
    ['LID JID', '123456789012345@lid'],
    ['device JID', '6281234567890:12@s.whatsapp.net'],
    ['JID with plus', '+6281234567890@s.whatsapp.net'],
    ['JID with spaces', '62 812 3456 7890@s.whatsapp.net'],
    ['JID too short', '1234567@s.whatsapp.net'],
    ['JID of leading 0', '081234567890@s.whatsapp.net'],
    ['bare server', '@s.whatsapp.net'],
    ['uppercase server', '6281234567890@S.WHATSAPP.NET'],
    ['other server', '6281234567890@c.us'],
    ['newline inside', '62812\n34567890'],
    ['negative number', -6281234567890],
    ['fractional number', 62812345678.5],
    ['unsafe number', 2 ** 60],
    ['short number', 1234567],
  ])('rejects %s', (_kind, to) => {
    expect(normalizeRecipient(to)).toBeNull();
  });
});

describe('SessionIdSchema', () => {
  it.each(['a', 'sesi_custom', 'A-b_9', 'x'.repeat(64), crypto.randomUUID()])('accepts %j', (id) => {
    expect(SessionIdSchema.safeParse(id).success).toBe(true);
  });

  it.each(['', 'x'.repeat(65), 'with space', 'dot.ted', 'slash/y', '../etc', 'ümlaut', 'new\nline', 'a\n'])(
    'rejects %j',
    (id) => {
      expect(SessionIdSchema.safeParse(id).success).toBe(false);
    },
  );
});

describe('public request bodies', () => {
  it('create session: both fields optional, sessionId checked', () => {
    expect(CreateSessionBodySchema.parse({})).toEqual({});
    expect(
      CreateSessionBodySchema.parse({ sessionId: 'sesi_custom', description: 'Deskripsi sesi' }),
    ).toEqual({
      sessionId: 'sesi_custom',
      description: 'Deskripsi sesi',
    });
    expect(CreateSessionBodySchema.safeParse({ sessionId: 'bad id' }).success).toBe(false);
    expect(CreateSessionBodySchema.safeParse({ sessionId: 42 }).success).toBe(false);
    expect(CreateSessionBodySchema.safeParse({ description: 'x'.repeat(1001) }).success).toBe(false);
  });

  it('send: needs to and message', () => {
    expect(SendMessageBodySchema.parse({ to: '6281234567890', message: 'Halo' })).toEqual({
      to: '6281234567890',
      message: 'Halo',
    });
    expect(SendMessageBodySchema.parse({ to: 6281234567890, message: 'Halo' }).to).toBe(6281234567890);
    for (const body of [
      {},
      { to: '6281234567890' },
      { message: 'Halo' },
      { to: '', message: 'Halo' },
      { to: '6281234567890', message: '' },
      { to: '6281234567890', message: 5 },
      { to: null, message: 'Halo' },
      { to: ['6281234567890'], message: 'Halo' },
      { to: 6.5, message: 'Halo' },
    ]) {
      expect(SendMessageBodySchema.safeParse(body).success, JSON.stringify(body)).toBe(false);
    }
  });
});

describe('public responses', () => {
  const user = { id: '62812345678@s.whatsapp.net', name: 'Nama Pengguna' };

  it('create session', () => {
    const body = {
      success: true,
      sessionId: 'sesi_custom',
      apiKey: 'wags_x',
      message: SESSION_CREATED_MESSAGE,
    };
    expect(CreateSessionResponseSchema.parse(body)).toEqual(body);
    expect(CreateSessionResponseSchema.safeParse({ ...body, message: 'ok' }).success).toBe(false);
  });

  it('qr: pending or connected, by the connected flag', () => {
    const pending = { success: true, connected: false, qr: 'data:image/png;base64,iVBORw0KGgo=' };
    const connected = { success: true, connected: true, user, message: ALREADY_AUTHENTICATED_MESSAGE };
    expect(QrResponseSchema.parse(pending)).toEqual(pending);
    expect(QrResponseSchema.parse(connected)).toEqual(connected);
    expect(QrResponseSchema.safeParse({ ...pending, qr: '2@abc,def' }).success).toBe(false);
    expect(QrResponseSchema.safeParse({ ...connected, connected: false }).success).toBe(false);
    expect(QrResponseSchema.safeParse({ success: true, connected: true, user }).success).toBe(false);
  });

  it('status: user left out when none', () => {
    expect(StatusResponseSchema.parse({ success: true, connected: false })).toEqual({
      success: true,
      connected: false,
    });
    expect(StatusResponseSchema.parse({ success: true, connected: true, user })).toEqual({
      success: true,
      connected: true,
      user,
    });
    expect(
      StatusResponseSchema.safeParse({
        success: true,
        connected: true,
        user: { id: '62812345678', name: 'x' },
      }).success,
    ).toBe(false);
  });

  it('send: the seed result shape, extra Baileys fields dropped', () => {
    const body = {
      success: true,
      result: {
        key: { remoteJid: '6281234567890@s.whatsapp.net', id: '3EB0ABC', fromMe: true },
        message: { extendedTextMessage: { text: 'Halo, ini pesan dari API!' } },
      },
    };
    expect(SendMessageResponseSchema.parse(body)).toEqual(body);
    const withExtras = {
      ...body,
      result: { ...body.result, messageTimestamp: 1, status: 'PENDING' },
    };
    expect(SendMessageResponseSchema.parse(withExtras)).toEqual(body);
    const notMine = { ...body, result: { ...body.result, key: { ...body.result.key, fromMe: false } } };
    expect(SendMessageResponseSchema.safeParse(notMine).success).toBe(false);
  });

  it('logout', () => {
    expect(LogoutResponseSchema.parse({ success: true, message: LOGGED_OUT_MESSAGE }).message).toBe(
      'Berhasil logout dari sesi',
    );
    expect(LogoutResponseSchema.safeParse({ success: true, message: 'bye' }).success).toBe(false);
  });

  it('error', () => {
    expect(
      ErrorResponseSchema.safeParse({ success: false, error: 'API key diperlukan', code: 'MISSING_API_KEY' })
        .success,
    ).toBe(true);
    expect(ErrorResponseSchema.safeParse({ success: false, error: 'x', code: 'NOPE' }).success).toBe(false);
  });
});

describe('host internal API', () => {
  it('send names a queued message by its id, nothing else', () => {
    expect(HostSendBodySchema.safeParse({ messageId: '3EB0A1B2C3D4E5F6A7B8C9' }).success).toBe(true);
    expect(HostSendBodySchema.safeParse({ messageId: '' }).success).toBe(false);
    expect(HostSendBodySchema.safeParse({ messageId: '../other' }).success).toBe(false);
    expect(HostSendBodySchema.safeParse({ to: '6281234567890@s.whatsapp.net', message: 'hi' }).success).toBe(
      false,
    );
  });

  it('status and qr carry the actor state', () => {
    expect(HostSessionStatusSchema.parse({ state: 'awaiting-qr', connected: false })).toEqual({
      state: 'awaiting-qr',
      connected: false,
    });
    expect(HostSessionStatusSchema.safeParse({ state: 'sleeping', connected: false }).success).toBe(false);
    expect(
      HostQrResponseSchema.parse({
        state: 'awaiting-qr',
        connected: false,
        qr: '2@ref,noise,identity,adv',
        qrPng: 'data:image/png;base64,iVBORw0KGgo=',
      }).qr,
    ).toBe('2@ref,noise,identity,adv');
    expect(
      HostQrResponseSchema.parse({ state: 'connecting', connected: false, qr: null, qrPng: null }).qr,
    ).toBeNull();
    expect(
      HostQrResponseSchema.safeParse({
        state: 'awaiting-qr',
        connected: false,
        qr: 'x',
        qrPng: 'not a data url',
      }).success,
    ).toBe(false);
    expect(HostStartSessionBodySchema.parse({})).toEqual({});
  });
});

describe('OpenAPI', () => {
  it('documents the schemas as named components', () => {
    const app = new OpenAPIHono();
    app.openapi(
      {
        method: 'post',
        path: '/api/send',
        request: { body: { content: { 'application/json': { schema: SendMessageBodySchema } } } },
        responses: {
          200: {
            description: 'sent',
            content: { 'application/json': { schema: SendMessageResponseSchema } },
          },
          400: { description: 'error', content: { 'application/json': { schema: ErrorResponseSchema } } },
        },
      },
      (c) => c.json({ success: false as const, error: 'x', code: 'INTERNAL_ERROR' as const }, 400),
    );
    const doc = app.getOpenAPIDocument({ openapi: '3.0.0', info: { title: 't', version: '1' } });
    const names = Object.keys(doc.components?.schemas ?? {});
    expect(names).toEqual(
      expect.arrayContaining(['SendMessageBody', 'SendMessageResponse', 'ErrorResponse']),
    );
  });
});

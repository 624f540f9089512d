import { expect } from 'vitest';

import { readQr } from '../wa-sim/qr-image.js';
import type { SimServer } from '../wa-sim/server.js';

// Response bodies are read loosely here; each test asserts their exact shape.
// biome-ignore lint/suspicious/noExplicitAny: JSON under test, checked by the assertions
type Json = any;

/** Calls the gateway's HTTP API as a customer's backend would. */
export const api = async (
  base: string,
  method: string,
  path: string,
  opts: { key?: string; body?: unknown; headers?: Record<string, string> } = {},
) => {
  const res = await fetch(`${base}${path}`, {
    method,
    headers: {
      ...opts.headers,
      ...(opts.key ? { 'x-api-key': opts.key } : {}),
      ...(opts.body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    body:
      opts.body === undefined
        ? undefined
        : typeof opts.body === 'string'
          ? opts.body
          : JSON.stringify(opts.body),
  });
  const text = await res.text();
  return {
    status: res.status,
    headers: res.headers,
    body: (text ? JSON.parse(text) : undefined) as Record<string, Json>,
  };
};

const sim = async (server: Pick<SimServer, 'url'>, method: string, path: string, body?: unknown) => {
  const res = await fetch(`${server.url}${path}`, {
    method,
    headers: { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as Json };
};

export const until = async <T>(check: () => Promise<T | undefined>, timeoutMs = 20_000): Promise<T> => {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 100));
  }
};

/** Fetches the QR through the API, decodes the PNG back to its text and has `phone` scan it. */
export const linkByQr = async (
  edgeUrl: string,
  simServer: Pick<SimServer, 'url'>,
  key: string,
  phone: string,
  name: string,
) => {
  const qr = await until(async () => {
    const res = await api(edgeUrl, 'GET', '/api/session/qr', { key });
    return res.status === 200 && res.body.qr ? res : undefined;
  });
  expect(qr.body).toEqual({
    success: true,
    connected: false,
    qr: expect.stringMatching(/^data:image\/png;base64,/),
  });
  const text = readQr(qr.body.qr);
  expect(text).toMatch(/^https:\/\/wa\.me\/settings\/linked_devices#/);
  expect((await sim(simServer, 'POST', '/sim/scan', { qr: text, phone, name })).status).toBe(200);
  return text as string;
};

type SseEvent = { id?: string; event?: string; data: Json };

/** Opens GET /api/session/events: `next()` answers each event as it comes, undefined at the stream's end. */
export const openSessionEvents = async (edgeUrl: string, key: string, lastEventId?: string) => {
  const res = await fetch(`${edgeUrl}/api/session/events`, {
    headers: { 'x-api-key': key, ...(lastEventId ? { 'last-event-id': lastEventId } : {}) },
  });
  const reader = res.body?.getReader();
  const decoder = new TextDecoder();
  let buffer = '';
  const next = async (): Promise<SseEvent | undefined> => {
    for (;;) {
      const end = buffer.indexOf('\n\n');
      if (end >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        if (block.startsWith(':')) continue; // a keep-alive comment
        const event: SseEvent = { data: undefined };
        for (const line of block.split('\n')) {
          const [field, ...rest] = line.split(':');
          const value = rest.join(':').replace(/^ /, '');
          if (field === 'id') event.id = value;
          else if (field === 'event') event.event = value;
          else if (field === 'data') event.data = JSON.parse(value);
        }
        return event;
      }
      const chunk = await reader?.read();
      if (!chunk || chunk.done) return undefined;
      buffer += decoder.decode(chunk.value, { stream: true });
    }
  };
  const rest = async () => {
    const events: SseEvent[] = [];
    for (let e = await next(); e; e = await next()) events.push(e);
    return events;
  };
  return { res, next, rest };
};

/**
 * The QR in its other forms: the image itself and the text it encodes, the same QR (asked again when
 * it rotated between the two calls); a format the API does not know is refused.
 */
export const qrForms = async (edgeUrl: string, key: string) => {
  const get = (format: string) =>
    fetch(`${edgeUrl}/api/session/qr?format=${format}`, { headers: { 'x-api-key': key } });
  const forms = await until(async () => {
    const raw = await get('raw');
    const png = await get('png');
    if (raw.status !== 200 || png.status !== 200) return undefined;
    const text = await raw.text();
    const image = Buffer.from(await png.arrayBuffer());
    const decoded = readQr(`data:image/png;base64,${image.toString('base64')}`);
    return decoded === text ? { raw, png, text, image } : undefined;
  });
  expect(forms.raw.headers.get('content-type')).toBe('text/plain; charset=utf-8');
  expect(forms.png.headers.get('content-type')).toBe('image/png');
  expect(forms.png.headers.get('cache-control')).toBe('no-store');
  expect(forms.image.subarray(0, 8)).toEqual(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]));
  expect(forms.text).toMatch(/^https:\/\/wa\.me\/settings\/linked_devices#/);
  const unknown = await api(edgeUrl, 'GET', '/api/session/qr?format=svg', { key });
  expect(unknown.status).toBe(400);
  expect(unknown.body).toMatchObject({ success: false, code: 'VALIDATION_ERROR' });
};

/**
 * The seed's whole client flow through the edge: create, QR, scan, status until connected, send (the
 * contact receives the exact text), logout (the simulator unlinks the device), and a fresh QR after.
 */
export const seedFlow = async (
  edgeUrl: string,
  simServer: Pick<SimServer, 'url'>,
  adminKey: string,
  tag: string,
) => {
  const phone = `6281${tag.padStart(9, '0')}`.slice(0, 13);
  const contact = `6289${tag.padStart(9, '0')}`.slice(0, 13);
  const created = await api(edgeUrl, 'POST', '/api/session/create', {
    key: adminKey,
    body: { sessionId: `flow-${tag}`, description: 'e2e' },
  });
  expect(created.status).toBe(200);
  expect(created.body).toEqual({
    success: true,
    sessionId: `flow-${tag}`,
    apiKey: expect.any(String),
    message: 'Sesi berhasil dibuat. Gunakan API key untuk operasi selanjutnya.',
  });
  const key = created.body.apiKey as string;
  await qrForms(edgeUrl, key);
  // The linking, live: where the session is first, then its changes until it is connected.
  const live = await openSessionEvents(edgeUrl, key);
  expect(live.res.status).toBe(200);
  expect(live.res.headers.get('content-type')).toMatch(/^text\/event-stream/);
  const first = await live.next();
  expect(first).toMatchObject({
    event: 'state',
    data: { connected: false, qr: expect.stringMatching(/^https:\/\/wa\.me\//) },
  });
  expect(first?.id).toBeUndefined();
  const firstQr = await linkByQr(edgeUrl, simServer, key, phone, 'Budi');
  const linking = await live.rest();
  const connectedAt = linking.findIndex(
    (e) => e.event === 'session.status' && e.data.data.state === 'connected',
  );
  expect(connectedAt).toBe(linking.length - 1); // the stream ends there
  for (const e of linking) expect(e.id).toMatch(/^evt_/);
  expect(linking[connectedAt]?.data).toMatchObject({ type: 'session.status', sessionId: `flow-${tag}` });
  // Resumed after the first of them: the rest again, without the `state` event; a bad id is refused.
  const resumed = await openSessionEvents(edgeUrl, key, linking[0]?.id);
  expect((await resumed.rest()).map((e) => e.id)).toEqual(linking.slice(1).map((e) => e.id));
  const bad = await api(edgeUrl, 'GET', '/api/session/events', {
    key,
    headers: { 'last-event-id': 'evt_nope' },
  });
  expect(bad.status).toBe(400);
  expect(bad.body).toMatchObject({ code: 'INVALID_CURSOR' });
  // Linked: where it is, and the end.
  const linked = await openSessionEvents(edgeUrl, key);
  expect(await linked.rest()).toEqual([
    { event: 'state', data: { state: 'connected', connected: true, qr: null } },
  ]);

  const status = await until(async () => {
    const res = await api(edgeUrl, 'GET', '/api/session/status', { key });
    return res.body.connected ? res : undefined;
  });
  expect(status.body).toEqual({
    success: true,
    connected: true,
    user: { id: `${phone}@s.whatsapp.net`, name: 'Budi' },
  });
  const linkedQr = await api(edgeUrl, 'GET', '/api/session/qr', { key });
  expect(linkedQr.body).toEqual({
    success: true,
    connected: true,
    user: { id: `${phone}@s.whatsapp.net`, name: 'Budi' },
    message: 'Sudah terautentikasi',
  });
  // Linked: there is no QR to show as an image or text.
  for (const format of ['png', 'raw']) {
    const none = await api(edgeUrl, 'GET', `/api/session/qr?format=${format}`, { key });
    expect(none.status).toBe(409);
    expect(none.body).toMatchObject({ success: false, code: 'ALREADY_LINKED' });
  }

  const text = `Halo dari ${tag} 👋 — ñ`;
  const sent = await api(edgeUrl, 'POST', '/api/send', { key, body: { to: `+${contact}`, message: text } });
  expect(sent.status).toBe(200);
  expect(sent.body).toEqual({
    success: true,
    result: {
      key: { remoteJid: `${contact}@s.whatsapp.net`, id: expect.any(String), fromMe: true },
      message: { extendedTextMessage: { text } },
    },
  });
  await until(async () => {
    const inbox = (await sim(simServer, 'GET', `/sim/contacts/${contact}/messages`)).body as {
      id: string;
      text: string;
    }[];
    return inbox.find((m) => m.id === sent.body.result.key.id && m.text === text);
  });

  const out = await api(edgeUrl, 'POST', '/api/session/logout', { key });
  expect(out.body).toEqual({ success: true, message: 'Berhasil logout dari sesi' });
  expect((await api(edgeUrl, 'GET', '/api/session/status', { key })).body).toEqual({
    success: true,
    connected: false,
  });
  expect((await sim(simServer, 'GET', `/sim/accounts/${phone}`)).body.devices).toEqual([]);
  // A logout unlinks the phone and wipes credentials: the tenant's audit log says who did it.
  const audit = await api(edgeUrl, 'GET', '/api/admin/audit?limit=1', { key: adminKey });
  expect(audit.body.entries).toEqual([
    expect.objectContaining({
      action: 'session.logout',
      actor: key.slice(0, 12),
      detail: { name: `flow-${tag}`, state: 'logged-out' },
    }),
  ]);

  const again = await until(async () => {
    const res = await api(edgeUrl, 'GET', '/api/session/qr', { key });
    return res.body.qr ? res : undefined;
  });
  expect(readQr(again.body.qr)).not.toBe(firstQr);
  return { key, phone, contact };
};

/**
 * Linking by pairing code through the edge: bad numbers refused, a code for the phone, the code shown
 * live on the session's event stream, the phone types it (the simulator runs the key exchange with the
 * real Baileys), connected; a linked session is refused another code.
 */
export const pairingCodeFlow = async (
  edgeUrl: string,
  simServer: Pick<SimServer, 'url'>,
  adminKey: string,
  tag: string,
) => {
  const phone = `6282${tag.padStart(9, '0')}`.slice(0, 13);
  const created = await api(edgeUrl, 'POST', '/api/session/create', {
    key: adminKey,
    body: { sessionId: `pair-${tag}` },
  });
  const key = created.body.apiKey as string;
  const ask = (phoneNumber: unknown) =>
    api(edgeUrl, 'POST', '/api/session/pairing-code', { key, body: { phoneNumber } });
  for (const bad of ['0812345678', '12ab', '+62 812', '1234567890123456']) {
    const refused = await ask(bad);
    expect(refused.status).toBe(400);
    expect(refused.body).toMatchObject({ success: false, code: 'INVALID_PHONE_NUMBER' });
  }
  expect((await ask(6281234)).body).toMatchObject({ code: 'VALIDATION_ERROR' });
  // The simulator's network knows no number starting with 999.
  const unknown = await until(async () => {
    const res = await ask('+999 1234 5678');
    return res.status === 503 ? undefined : res;
  });
  expect(unknown.status).toBe(422);
  expect(unknown.body).toMatchObject({ success: false, code: 'PHONE_NOT_ON_WHATSAPP' });

  const live = await openSessionEvents(edgeUrl, key);
  expect((await live.next())?.event).toBe('state');
  const given = await ask(`+${phone.slice(0, 2)} ${phone.slice(2)}`);
  expect(given.status).toBe(200);
  expect(given.body).toEqual({ success: true, code: expect.stringMatching(/^[0-9A-Z]{4}-[0-9A-Z]{4}$/) });
  expect(given.headers.get('cache-control')).toBe('no-store');
  // Pairing progress on the stream: the code given out, then (QRs may rotate meanwhile) connected.
  let shown: SseEvent | undefined;
  do shown = await live.next();
  while (shown && shown.event !== 'session.pairing_code');
  expect(shown?.data.data).toEqual({ sessionId: `pair-${tag}`, code: given.body.code });

  const typed = await sim(simServer, 'POST', '/sim/pair-code', {
    phone,
    code: given.body.code,
    name: 'Sari',
  });
  expect(typed).toEqual({ status: 200, body: { jid: `${phone}:1@s.whatsapp.net` } });
  const rest = await live.rest();
  expect(rest.at(-1)?.data.data).toMatchObject({ state: 'connected' });
  const status = await until(async () => {
    const res = await api(edgeUrl, 'GET', '/api/session/status', { key });
    return res.body.connected ? res : undefined;
  });
  expect(status.body.user).toEqual({ id: `${phone}@s.whatsapp.net`, name: 'Sari' });
  const again = await ask(phone);
  expect(again.status).toBe(409);
  expect(again.body).toMatchObject({ success: false, code: 'ALREADY_LINKED' });
  await api(edgeUrl, 'POST', '/api/session/logout', { key });
};

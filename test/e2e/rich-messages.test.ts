// Files, locations, contact cards, reactions, replies and mentions through POST /api/messages, end to
// end: the edge, a real host with Baileys (uploading to the simulator's HTTPS media server), and the
// contact's simulated phone, which downloads, checks and decrypts every file and lists what it got.
import { createHash, randomBytes } from 'node:crypto';
import { createServer as createHttpsServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningEdge } from '../../edge/entries/node.js';
import { useTestDatabase } from '../helpers/postgres.js';
import { issueServerCertificate } from '../wa-sim/media-tls.js';
import type { SimServer } from '../wa-sim/server.js';
import { startTestEdge, useBackend } from './backend.js';
import { api, linkByQr, until } from './flow.js';

const SECRET = 'rich-e2e-secret-rich-e2e-secret-rich-0123';
const database = useTestDatabase();
const backend = useBackend(database, { hostId: 'host-rich-e2e', secret: SECRET, mediaAllowPrivate: true });
let edge: RunningEdge;
let sim: SimServer;
let key: string;
let files: Server;
let filesUrl: string;

const PHONE = '6285500000001';
const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');
const png = (size: number) =>
  Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), randomBytes(size)]);
const webp = (size: number) =>
  Buffer.concat([Buffer.from('RIFF'), Buffer.alloc(4), Buffer.from('WEBPVP8 '), randomBytes(size)]);

type Entry = Record<string, unknown> & { id: string };
const inboxEntry = (contact: string, id: string) =>
  until(async () => {
    const res = await fetch(`${sim.url}/sim/contacts/${contact}/messages`);
    return ((await res.json()) as Entry[]).find((m) => m.id === id);
  }, 30_000);

const queue = async (body: Record<string, unknown>) => {
  const res = await api(edge.url, 'POST', '/api/messages', { key, body });
  expect(res.status, JSON.stringify(res.body)).toBe(202);
  return res.body.id as string;
};
const queuedCount = async () =>
  Number(
    (
      await database()
        .db.selectFrom('messages')
        .select((eb) => eb.fn.countAll().as('n'))
        .where('direction', '=', 'out')
        .executeTakeFirstOrThrow()
    ).n,
  );

/** A contact's phone sends the linked account a message (`kind` and its fields); its id. */
const contactSends = async (contact: string, body: Record<string, unknown>) => {
  const res = await fetch(`${sim.url}/sim/contacts/${contact}/messages`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ to: PHONE, ...body }),
  });
  expect(res.status).toBe(200);
  return ((await res.json()) as { id: string }).id;
};

/** Waits until the gateway stored message `id` (the host heard it). */
const storedInGateway = (id: string) =>
  until(async () =>
    (await api(edge.url, 'GET', `/api/messages/${id}`, { key })).status === 200 ? true : undefined,
  );

/** A file the test serves over HTTPS, for `media.url`. */
const served = new Map<string, { type: string; body: Buffer }>();

beforeAll(async () => {
  ({ sim } = backend());
  edge = await startTestEdge(database().db, SECRET);
  const created = await api(edge.url, 'POST', '/api/session/create', {
    key: backend().adminKey,
    body: { sessionId: 'rich' },
  });
  key = created.body.apiKey as string;
  await linkByQr(edge.url, sim, key, PHONE, 'rich');
  await until(async () =>
    (await api(edge.url, 'GET', '/api/session/status', { key })).body.connected ? true : undefined,
  );
  // Signed by the simulator's CA, which the host trusts (WA_MEDIA_CA) as it would a public CA.
  files = createHttpsServer(
    await issueServerCertificate(
      { cert: sim.mediaCa, key: sim.sim.mediaCa?.key ?? Buffer.alloc(0) },
      '127.0.0.1',
    ),
    (req, res) => {
      if (req.url === '/moved.png') return void res.writeHead(302, { location: '/invoice.pdf' }).end();
      const file = served.get(req.url ?? '');
      if (!file) return void res.writeHead(404).end();
      res.writeHead(200, { 'content-type': file.type }).end(file.body);
    },
  );
  await new Promise<void>((resolve) => files.listen(0, '127.0.0.1', resolve));
  filesUrl = `https://127.0.0.1:${(files.address() as AddressInfo).port}`;
});
afterAll(async () => {
  await edge?.close();
  files?.closeAllConnections();
  await new Promise((resolve) => files?.close(resolve));
});

describe('sending every kind through the outbox', () => {
  it('an image sent inline arrives decrypted, byte for byte, with its caption and type', async () => {
    const contact = '6285510000001';
    const image = png(30_000);
    const id = await queue({
      to: contact,
      type: 'image',
      media: { data: image.toString('base64') },
      caption: 'your receipt',
    });
    expect(await inboxEntry(contact, id)).toMatchObject({
      type: 'image',
      mimetype: 'image/png',
      caption: 'your receipt',
      size: image.length,
      sha256: sha256(image),
    });
    // The file was kept only until it left.
    const message = await until(async () => {
      const m = (await api(edge.url, 'GET', `/api/messages/${id}`, { key })).body.message;
      return m.status !== 'queued' ? m : undefined;
    });
    // What was sent can be downloaded again, from WhatsApp's copy, as a received file can.
    const again = await until(async () => {
      const res = await fetch(`${edge.url}/api/messages/${id}/media`, { headers: { 'x-api-key': key } });

      return res.status === 200 ? Buffer.from(await res.arrayBuffer()) : undefined;
    });
    expect(sha256(again)).toBe(sha256(image));
    expect(message).toMatchObject({
      kind: 'image',
      text: 'your receipt',
      status: expect.stringMatching(/sent|delivered/),
    });
  });

  it('a document from an https URL keeps its file name, caption and type', async () => {
    const contact = '6285510000002';
    const pdf = Buffer.concat([Buffer.from('%PDF-1.7\n'), randomBytes(50_000)]);
    served.set('/invoice.pdf', { type: 'application/pdf', body: pdf });
    const id = await queue({
      to: contact,
      type: 'document',
      media: { url: `${filesUrl}/invoice.pdf`, fileName: 'invoice-1042.pdf' },
      caption: 'invoice 1042',
    });
    expect(await inboxEntry(contact, id)).toMatchObject({
      type: 'document',
      mimetype: 'application/pdf',
      fileName: 'invoice-1042.pdf',
      caption: 'invoice 1042',
      sha256: sha256(pdf),
    });
  });

  it('video, a voice note and a sticker arrive as their kinds', async () => {
    const contact = '6285510000003';
    const video = Buffer.concat([Buffer.alloc(4), Buffer.from('ftypisom'), randomBytes(20_000)]);
    const voice = Buffer.concat([Buffer.from('OggS'), randomBytes(8_000)]);
    const sticker = webp(4_000);
    const ids = [
      await queue({
        to: contact,
        type: 'video',
        media: { data: video.toString('base64'), mimetype: 'video/mp4' },
      }),
      await queue({ to: contact, type: 'audio', media: { data: voice.toString('base64') }, ptt: true }),
      await queue({ to: contact, type: 'sticker', media: { data: sticker.toString('base64') } }),
    ];
    expect(await inboxEntry(contact, ids[0] ?? '')).toMatchObject({
      type: 'video',
      mimetype: 'video/mp4',
      sha256: sha256(video),
    });
    expect(await inboxEntry(contact, ids[1] ?? '')).toMatchObject({
      type: 'audio',
      ptt: true,
      mimetype: 'audio/ogg',
      sha256: sha256(voice),
    });
    expect(await inboxEntry(contact, ids[2] ?? '')).toMatchObject({
      type: 'sticker',
      mimetype: 'image/webp',
      sha256: sha256(sticker),
    });
  });

  it('a location, a contact card, a reaction, a reply and mentions', async () => {
    const contact = '6285510000004';
    const first = await queue({ to: contact, text: 'where shall we meet?' });
    await inboxEntry(contact, first);
    const place = await queue({
      to: contact,
      type: 'location',
      location: { latitude: -6.1754, longitude: 106.8272, name: 'Monas', address: 'Jakarta' },
    });
    expect(await inboxEntry(contact, place)).toMatchObject({
      type: 'location',
      location: { latitude: -6.1754, longitude: 106.8272, name: 'Monas', address: 'Jakarta' },
    });
    const vcard =
      'BEGIN:VCARD\nVERSION:3.0\nFN:Budi\nTEL;type=CELL;waid=6281234567890:+62 812 3456 7890\nEND:VCARD';
    const card = await queue({ to: contact, type: 'contact', contact: { vcard } });
    expect(await inboxEntry(contact, card)).toMatchObject({
      type: 'contact',
      contact: { displayName: 'Budi', vcard },
    });
    const reaction = await queue({
      to: contact,
      type: 'reaction',
      reaction: { messageId: first, emoji: '👍' },
    });
    expect(await inboxEntry(contact, reaction)).toMatchObject({
      type: 'reaction',
      reaction: { id: first, emoji: '👍' },
    });
    const reply = await queue({
      to: contact,
      text: 'at noon, @Budi',
      replyTo: first,
      mentions: ['6281234567890'],
    });
    expect(await inboxEntry(contact, reply)).toMatchObject({
      text: 'at noon, @Budi',
      quoted: first,
      mentions: ['6281234567890@s.whatsapp.net'],
    });
    // A reply to what the contact sent: its id from the simulator, stored when the host heard it.
    const theirs = { id: await contactSends(contact, { text: 'noon is fine' }) };
    await storedInGateway(theirs.id);
    const answer = await queue({
      to: contact,
      type: 'image',
      media: { data: png(100).toString('base64') },
      replyTo: theirs.id,
    });
    expect(await inboxEntry(contact, answer)).toMatchObject({ type: 'image', quoted: theirs.id });
  });
});

describe('a contact whose phone cannot decrypt what we sent', () => {
  const fault = (body: Record<string, unknown>) =>
    fetch(`${sim.url}/sim/faults`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
  /** The message's status once it left (`sent` or further), else undefined. */
  const sent = async (id: string) => {
    const status = (await api(edge.url, 'GET', `/api/messages/${id}`, { key })).body.message?.status;
    return status === 'queued' ? undefined : (status as string);
  };

  it('asks again (a retry receipt), and each kind comes again from the store, the same, on a new session', async () => {
    const contact = '6285510000009';
    const first = await queue({ to: contact, text: 'hello' });
    await inboxEntry(contact, first);
    // The contact answers, so the account's next messages go on that session as plain `msg`.
    await storedInGateway(await contactSends(contact, { text: 'hi' }));
    // The contact's phone lost its sessions and is switched off for a while: what we send it now waits.
    expect((await fault({ kind: 'sessions-lost', phone: contact })).status).toBe(200);
    expect((await fault({ kind: 'phone-away', phone: contact, ms: 6_000 })).status).toBe(200);
    const image = png(2_000);
    const reply = await queue({
      to: contact,
      text: 'see @Budi',
      replyTo: first,
      mentions: ['6281234567890'],
    });
    const photo = await queue({
      to: contact,
      type: 'image',
      media: { data: image.toString('base64') },
      caption: 'the map',
    });
    const place = await queue({
      to: contact,
      type: 'location',
      location: { latitude: -6.1754, longitude: 106.8272, name: 'Monas' },
    });
    for (const id of [reply, photo, place]) {
      await until(async () => (await sent(id)) ?? undefined);
    }
    // Meanwhile the account's socket is cut and comes back: the new socket has none of them in Baileys'
    // own cache of recent messages, so the retries below are answered from the store.
    expect((await fault({ kind: 'drop', phone: PHONE })).status).toBe(200);
    await until(async () =>
      (await api(edge.url, 'GET', '/api/session/status', { key })).body.connected ? true : undefined,
    );
    // Back, the phone cannot decrypt any of them and asks again; each came again, on a new session.
    expect(await inboxEntry(contact, reply)).toMatchObject({
      enc: 'pkmsg',
      text: 'see @Budi',
      quoted: first,
      mentions: ['6281234567890@s.whatsapp.net'],
    });
    expect(await inboxEntry(contact, photo)).toMatchObject({
      enc: 'pkmsg',
      type: 'image',
      caption: 'the map',
      size: image.length,
      sha256: sha256(image),
    });
    expect(await inboxEntry(contact, place)).toMatchObject({
      enc: 'pkmsg',
      type: 'location',
      location: { latitude: -6.1754, longitude: 106.8272, name: 'Monas' },
    });
    for (const id of [reply, photo, place]) {
      await until(async () => ((await sent(id)) === 'delivered' ? true : undefined));
    }
    // An operator sees recipients asking again (the phone asked once for each).
    const metrics = await (await fetch(`${backend().host.url}/metrics`)).text();
    expect(Number(/^wa_messages_asked_again_total (\d+)$/m.exec(metrics)?.[1])).toBeGreaterThanOrEqual(3);
  });
});

describe('what is refused before anything is queued', () => {
  const refused = async (body: Record<string, unknown>) => {
    const res = await api(edge.url, 'POST', '/api/messages', { key, body: { to: '6285520000001', ...body } });
    return { status: res.status, code: res.body.code as string };
  };

  it('each kind of bad input has its own code, and nothing is queued', async () => {
    const contact = '6285520000001';
    const known = await queue({ to: contact, text: 'hello' });
    const before = await queuedCount();
    const tooLong = 'x'.repeat(1025);
    served.set('/page.html', { type: 'text/html', body: Buffer.from('<html>') });
    served.set('/big.png', { type: 'image/png', body: png(5 * 1024 * 1024) });
    const cases: [Record<string, unknown>, number, string][] = [
      [{ type: 'image', media: { url: 'http://example.com/a.png' } }, 400, 'MEDIA_URL_NOT_HTTPS'],
      [{ type: 'image', media: { url: 'not a url' } }, 400, 'MEDIA_URL_INVALID'],
      [{ type: 'image', media: { url: `${filesUrl}/page.html` } }, 415, 'MEDIA_TYPE_NOT_ALLOWED'],
      [{ type: 'image', media: { url: `${filesUrl}/missing.png` } }, 422, 'MEDIA_URL_UNREACHABLE'],
      [{ type: 'image', media: { url: `${filesUrl}/moved.png` } }, 422, 'MEDIA_URL_REDIRECT'],
      [{ type: 'image', media: { url: `${filesUrl}/big.png` } }, 413, 'MEDIA_TOO_LARGE'],
      [{ type: 'image', media: { data: 'not base64!' } }, 400, 'MEDIA_DATA_INVALID'],
      [
        { type: 'image', media: { data: png(10).toString('base64'), url: `${filesUrl}/x.png` } },
        400,
        'MEDIA_SOURCE_INVALID',
      ],
      [{ type: 'image', media: {} }, 400, 'MEDIA_SOURCE_INVALID'],
      [
        { type: 'image', media: { data: Buffer.from('plain text').toString('base64') } },
        415,
        'MEDIA_TYPE_NOT_ALLOWED',
      ],
      [
        { type: 'sticker', media: { data: png(10).toString('base64'), mimetype: 'image/png' } },
        415,
        'MEDIA_TYPE_NOT_ALLOWED',
      ],
      [{ type: 'sticker', media: { data: webp(600 * 1024).toString('base64') } }, 413, 'MEDIA_TOO_LARGE'],
      [
        { type: 'image', media: { data: png(10).toString('base64') }, caption: tooLong },
        400,
        'CAPTION_TOO_LONG',
      ],
      [
        { type: 'audio', media: { data: Buffer.from('OggS').toString('base64') }, caption: 'x' },
        400,
        'CAPTION_NOT_ALLOWED',
      ],
      [
        { type: 'reaction', reaction: { messageId: '3EB0NOTAMESSAGE', emoji: '👍' } },
        404,
        'REACTION_TARGET_NOT_FOUND',
      ],
      [{ text: 'x', replyTo: '3EB0NOTAMESSAGE' }, 404, 'REPLY_TARGET_NOT_FOUND'],
      [{ text: 'x', replyTo: known, to: '6285520000009' }, 404, 'REPLY_TARGET_NOT_FOUND'],
      [{ type: 'location', location: { latitude: 91, longitude: 0 } }, 400, 'LOCATION_OUT_OF_RANGE'],
      [{ type: 'location', location: { latitude: 0, longitude: -180.5 } }, 400, 'LOCATION_OUT_OF_RANGE'],
      [
        { type: 'contact', contact: { vcard: 'BEGIN:VCARD\nVERSION:3.0\nFN:Nobody\nEND:VCARD' } },
        400,
        'VCARD_WITHOUT_NUMBER',
      ],
      [{ text: 'x', mentions: ['not-a-number'] }, 400, 'INVALID_MENTION'],
      [{ type: 'poll', text: 'x' }, 400, 'VALIDATION_ERROR'],
    ];
    for (const [body, status, code] of cases) {
      expect(await refused(body), JSON.stringify(body).slice(0, 120)).toEqual({ status, code });
    }
    expect(await queuedCount()).toBe(before);
  });

  it("another session's message is unknown to replyTo and reactions", async () => {
    const other = await api(edge.url, 'POST', '/api/session/create', {
      key: backend().adminKey,
      body: { sessionId: 'rich-other' },
    });
    const theirs = await database()
      .db.insertInto('messages')
      .values({
        session_id: (
          await database()
            .db.selectFrom('sessions')
            .select('id')
            .where('name', '=', 'rich-other')
            .executeTakeFirstOrThrow()
        ).id,
        id: '3EB0OTHERSESSION000001',
        tenant_id: (
          await database()
            .db.selectFrom('sessions')
            .select('tenant_id')
            .where('name', '=', 'rich-other')
            .executeTakeFirstOrThrow()
        ).tenant_id,
        direction: 'in',
        chat_jid: '6285520000001@s.whatsapp.net',
        kind: 'text',
        text: 'not yours',
        sent_at: new Date(),
      })
      .returning('id')
      .executeTakeFirstOrThrow();
    expect(other.status).toBe(200);
    expect(await refused({ text: 'x', replyTo: theirs.id })).toEqual({
      status: 404,
      code: 'REPLY_TARGET_NOT_FOUND',
    });
    expect(await refused({ type: 'reaction', reaction: { messageId: theirs.id, emoji: '👍' } })).toEqual({
      status: 404,
      code: 'REACTION_TARGET_NOT_FOUND',
    });
  });
});

describe('receiving every kind', () => {
  type Event = { type: string; data: { message: Record<string, unknown> & { id: string } } };
  const receivedEvent = (id: string) =>
    until(async () => {
      const res = await api(edge.url, 'GET', '/api/events?types=message.received&limit=500', { key });
      return (res.body.events as Event[]).find((e) => e.data.message.id === id)?.data.message;
    }, 30_000);

  it('files, locations, contact cards, reactions and replies become message.received with their fields', async () => {
    const contact = '6285530000001';
    const image = png(20_000);
    const photo = await contactSends(contact, {
      kind: 'image',
      data: image.toString('base64'),
      mimetype: 'image/png',
      caption: 'look at this',
    });
    const shown = await receivedEvent(photo);
    expect(shown).toMatchObject({
      kind: 'image',
      text: 'look at this',
      direction: 'in',
      media: { mimetype: 'image/png', size: image.length },
    });
    // What it takes to download it stays inside the gateway.
    expect(JSON.stringify(shown)).not.toMatch(/mediaKey|directPath/);
    const pdf = Buffer.concat([Buffer.from('%PDF-1.4'), randomBytes(3_000)]);
    const doc = await contactSends(contact, {
      kind: 'document',
      data: pdf.toString('base64'),
      mimetype: 'application/pdf',
      fileName: 'menu.pdf',
      quoted: photo,
    });
    expect(await receivedEvent(doc)).toMatchObject({
      kind: 'document',
      media: { mimetype: 'application/pdf', fileName: 'menu.pdf', size: pdf.length },
      quoted: { id: photo },
    });
    const voice = await contactSends(contact, {
      kind: 'audio',
      data: Buffer.from('OggS-voice').toString('base64'),
      mimetype: 'audio/ogg; codecs=opus',
      ptt: true,
    });
    expect(await receivedEvent(voice)).toMatchObject({ kind: 'audio', media: { ptt: true } });
    const place = await contactSends(contact, {
      kind: 'location',
      location: { latitude: 48.8584, longitude: 2.2945, name: 'Eiffel Tower' },
    });
    expect(await receivedEvent(place)).toMatchObject({
      kind: 'location',
      text: null,
      location: { latitude: 48.8584, longitude: 2.2945, name: 'Eiffel Tower' },
    });
    const vcard = 'BEGIN:VCARD\nVERSION:3.0\nFN:Sari\nTEL;waid=6281111111111:+62 811 1111 1111\nEND:VCARD';
    const card = await contactSends(contact, { kind: 'contact', contact: { displayName: 'Sari', vcard } });
    expect(await receivedEvent(card)).toMatchObject({
      kind: 'contact',
      contact: { displayName: 'Sari', vcard },
    });
    const mine = await queue({ to: contact, text: 'did you like it?' });
    await inboxEntry(contact, mine);
    const reaction = await contactSends(contact, { kind: 'reaction', reaction: { id: mine, emoji: '❤️' } });
    expect(await receivedEvent(reaction)).toMatchObject({
      kind: 'reaction',
      text: '❤️',
      reaction: { messageId: mine, emoji: '❤️' },
    });
  });
});

describe('edits and deletions', () => {
  type Event = { type: string; data: Record<string, unknown> & { message?: { id: string } } };
  const eventOf = (type: string, id: string) =>
    until(async () => {
      const res = await api(edge.url, 'GET', `/api/events?types=${type}&limit=500`, { key });
      return (res.body.events as Event[]).find((e) => (e.data.message?.id ?? e.data.id) === id)?.data;
    }, 30_000);
  const stored = async (id: string) =>
    (await api(edge.url, 'GET', `/api/messages/${id}`, { key })).body.message;

  it('an edit changes the stored text, with message.updated; a deletion wipes it, with message.deleted', async () => {
    const contact = '6285560000001';
    const id = await contactSends(contact, { text: 'harga 10.000' });
    await storedInGateway(id);
    await contactSends(contact, { kind: 'edit', edit: { id, text: 'harga 12.000' } });
    const updated = await eventOf('message.updated', id);
    expect(updated.message).toMatchObject({ id, text: 'harga 12.000', editedAt: expect.any(String) });
    expect(await stored(id)).toMatchObject({ text: 'harga 12.000', editedAt: expect.any(String) });

    const photo = await contactSends(contact, {
      kind: 'image',
      data: png(1_000).toString('base64'),
      mimetype: 'image/png',
      caption: 'oops',
    });
    await storedInGateway(photo);
    await contactSends(contact, { kind: 'delete', delete: { id: photo } });
    expect(await eventOf('message.deleted', photo)).toMatchObject({
      sessionId: 'rich',
      id: photo,
      chat: `${contact}@s.whatsapp.net`,
    });
    const gone = await stored(photo);
    expect(gone).toMatchObject({ kind: 'image', text: null, deletedAt: expect.any(String) });
    expect(gone.media).toBeUndefined();
    // Its file cannot be fetched any more either.
    const download = await fetch(`${edge.url}/api/messages/${photo}/media`, {
      headers: { 'x-api-key': key },
    });
    expect(await download.json()).toMatchObject({ code: 'MESSAGE_HAS_NO_MEDIA' });
  });

  it('a contact cannot edit or delete what it did not send', async () => {
    const contact = '6285560000002';
    const mine = await queue({ to: contact, text: 'from the shop' });
    await inboxEntry(contact, mine);
    const res = await fetch(`${sim.url}/sim/contacts/${contact}/messages`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ to: PHONE, kind: 'delete', delete: { id: mine } }),
    });
    expect(res.status).toBe(404);
    expect((await stored(mine)).deletedAt).toBeUndefined();
  });
});

describe('downloading a received file', () => {
  const contactSendsFile = async (contact: string, file: Buffer, extra: Record<string, unknown> = {}) => {
    const id = await contactSends(contact, {
      kind: 'document',
      data: file.toString('base64'),
      mimetype: 'application/pdf',
      ...extra,
    });
    await storedInGateway(id);
    return id;
  };
  const download = (id: string) =>
    fetch(`${edge.url}/api/messages/${id}/media`, { headers: { 'x-api-key': key } });

  it('streams the decrypted file byte for byte, with its type and name', async () => {
    const pdf = Buffer.concat([Buffer.from('%PDF-1.7'), randomBytes(300_000)]);
    const id = await contactSendsFile('6285540000001', pdf, { fileName: 'Faktur Mei 2026.pdf' });
    const res = await download(id);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/pdf');
    expect(res.headers.get('content-disposition')).toBe(
      `attachment; filename="Faktur Mei 2026.pdf"; filename*=UTF-8''Faktur%20Mei%202026.pdf`,
    );
    expect(sha256(Buffer.from(await res.arrayBuffer()))).toBe(sha256(pdf));
  });

  it('a text, an unknown id, a file changed on the server, and one WhatsApp no longer has', async () => {
    const text = await queue({ to: '6285540000002', text: 'no file here' });
    expect((await download(text)).status).toBe(404);
    expect(await (await download(text)).json()).toMatchObject({ code: 'MESSAGE_HAS_NO_MEDIA' });
    expect(await (await download('3EB0NOSUCHMESSAGE')).json()).toMatchObject({ code: 'MESSAGE_NOT_FOUND' });

    // The file on the media server no longer matches the message: the download breaks, it never ends well.
    const changed = await contactSendsFile(
      '6285540000002',
      Buffer.concat([Buffer.from('%PDF'), randomBytes(100_000)]),
    );
    const row = await database()
      .db.selectFrom('messages')
      .select('content')
      .where('id', '=', changed)
      .executeTakeFirstOrThrow();
    const stored = sim.sim.media.get(
      (row.content as { download: { directPath: string } }).download.directPath,
    );
    if (!stored) throw new Error('the file is not on the media server');
    stored[5_000] = (stored[5_000] ?? 0) ^ 0xff;
    const broken = await download(changed);
    expect(broken.status).toBe(200);
    await expect(broken.arrayBuffer()).rejects.toThrow();
  });

  it('once WhatsApp dropped a file, the sender’s phone uploads it again; a file we sent is gone for good', async () => {
    const contact = '6285540000003';
    const ours = await queue({ to: contact, type: 'image', media: { data: png(500).toString('base64') } });
    await until(async () => ((await download(ours)).status === 200 ? true : undefined));
    const pdf = Buffer.from('%PDF-later');
    const theirs = await contactSendsFile(contact, pdf);
    await fetch(`${sim.url}/sim/faults`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ kind: 'media-expired' }),
    });
    const pathOf = async () =>
      (
        (
          await database()
            .db.selectFrom('messages')
            .select('content')
            .where('id', '=', theirs)
            .executeTakeFirstOrThrow()
        ).content as { download: { directPath: string } }
      ).download.directPath;
    const before = await pathOf();
    const back = await download(theirs);
    expect(back.status).toBe(200);
    expect(sha256(Buffer.from(await back.arrayBuffer()))).toBe(sha256(pdf));
    // It came from the phone's new upload, kept for the next download.
    const after = await pathOf();
    expect(after).not.toBe(before);
    expect(sha256(Buffer.from(await (await download(theirs)).arrayBuffer()))).toBe(sha256(pdf));
    expect(await pathOf()).toBe(after);
    const gone = await download(ours);
    expect(gone.status).toBe(410);
    expect(await gone.json()).toMatchObject({ code: 'MEDIA_EXPIRED' });
  });
});

describe('uploading a file as multipart/form-data', () => {
  const upload = async (
    fields: Record<string, string>,
    files: { name: string; body: Buffer; type: string }[],
  ) => {
    const form = new FormData();
    for (const [name, value] of Object.entries(fields)) form.append(name, value);
    for (const f of files) form.append('file', new Blob([new Uint8Array(f.body)], { type: f.type }), f.name);
    const res = await fetch(`${edge.url}/api/messages`, {
      method: 'POST',
      headers: { 'x-api-key': key },
      body: form,
    });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  };

  it('sends the uploaded file under its own name and type', async () => {
    const contact = '6285550000001';
    const pdf = Buffer.concat([Buffer.from('%PDF-1.7\n'), randomBytes(20_000)]);
    const sent = await upload({ to: contact, type: 'document', caption: 'signed copy' }, [
      { name: 'kontrak.pdf', body: pdf, type: 'application/pdf' },
    ]);
    expect(sent.status, JSON.stringify(sent.body)).toBe(202);
    expect(await inboxEntry(contact, sent.body.id as string)).toMatchObject({
      type: 'document',
      fileName: 'kontrak.pdf',
      mimetype: 'application/pdf',
      caption: 'signed copy',
      sha256: sha256(pdf),
    });
  });

  it('refuses a form with no file or two, and an urlencoded form, queueing nothing', async () => {
    const before = await queuedCount();
    const file = { name: 'a.png', body: png(100), type: 'image/png' };
    expect((await upload({ to: '6285550000002', type: 'image' }, [])).body.code).toBe('MEDIA_FILE_MISSING');
    expect((await upload({ to: '6285550000002', type: 'image', file: 'not a file' }, [])).body.code).toBe(
      'MEDIA_FILE_MISSING',
    );
    expect((await upload({ to: '6285550000002', type: 'image' }, [file, file])).body.code).toBe(
      'MEDIA_FILE_DUPLICATE',
    );
    expect((await upload({ to: '6285550000002', type: 'location' }, [file])).body.code).toBe(
      'VALIDATION_ERROR',
    );
    const big = { name: 'big.png', body: png(5 * 1024 * 1024), type: 'image/png' };
    expect(await upload({ to: '6285550000002', type: 'image' }, [big])).toMatchObject({
      status: 413,
      body: { code: 'MEDIA_TOO_LARGE' },
    });
    expect(await queuedCount()).toBe(before);
  });
});

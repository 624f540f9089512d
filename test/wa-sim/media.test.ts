import { createHash, randomBytes } from 'node:crypto';
import { Agent as HttpsAgent } from 'node:https';
import { downloadMediaMessage, type proto, type WASocket } from '@whiskeysockets/baileys';
import { Agent } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { control, endSocket, eventually, type Linked, linkDevice, startTestSimulator } from './fixtures.js';
import type { SimServer } from './server.js';

let server: SimServer;
let alice: Linked;
let incoming: proto.IWebMessageInfo[];
let dispatcher: Agent;
const ALICE = '628777000001';

const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');
type InboxEntry = Record<string, unknown> & { id: string };

/** What contact `phone` lists for message `id`, once it is there. */
const inboxEntry = (phone: string, id: string) =>
  eventually(async () => {
    const inbox = (await control(server, 'GET', `/sim/contacts/${phone}/messages`)).body as InboxEntry[];
    return inbox.find((m) => m.id === id);
  });

/** The contact sends through the control API; resolves with the message as Baileys emitted it. */
const contactSends = async (contact: string, body: Record<string, unknown>) => {
  const res = await control(server, 'POST', `/sim/contacts/${contact}/messages`, { to: ALICE, ...body });
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  return eventually(() => incoming.find((m) => m.key?.id === res.body.id));
};

const send = async (sock: WASocket, to: string, content: Parameters<WASocket['sendMessage']>[1]) =>
  (await sock.sendMessage(`${to}@s.whatsapp.net`, content))?.key.id ?? '';

beforeAll(async () => {
  server = await startTestSimulator();
  // The gateway's way of trusting the simulator's media CA: an agent for uploads, a dispatcher for downloads.
  alice = await linkDevice(server, ALICE, 'Alice', { fetchAgent: new HttpsAgent({ ca: server.mediaCa }) });
  dispatcher = new Agent({ connect: { ca: server.mediaCa } });
  incoming = [];
  alice.sock.ev.on('messages.upsert', ({ messages }) => {
    for (const m of messages) if (!m.key?.fromMe && m.message) incoming.push(m);
  });
});
afterAll(async () => {
  await endSocket(alice.sock);
  await dispatcher.close();
  await server.close();
});

describe('media a linked device sends', () => {
  it('is uploaded over HTTPS, and the contact downloads, checks and decrypts it byte for byte', async () => {
    const contact = '628777100001';
    const image = randomBytes(70_000);
    const uploads = server.sim.media.uploads;
    const id = await send(alice.sock, contact, { image, mimetype: 'image/jpeg', caption: 'the invoice' });
    expect(await inboxEntry(contact, id)).toMatchObject({
      type: 'image',
      mimetype: 'image/jpeg',
      caption: 'the invoice',
      size: image.length,
      sha256: sha256(image),
    });
    expect(server.sim.media.uploads).toBe(uploads + 1);
  });

  it("keeps a document's file name and caption, and marks a voice note", async () => {
    const contact = '628777100002';
    const pdf = Buffer.concat([Buffer.from('%PDF-1.7\n'), randomBytes(5_000)]);
    const doc = await send(alice.sock, contact, {
      document: pdf,
      mimetype: 'application/pdf',
      fileName: 'invoice-42.pdf',
      caption: 'as promised',
    });
    expect(await inboxEntry(contact, doc)).toMatchObject({
      type: 'document',
      fileName: 'invoice-42.pdf',
      caption: 'as promised',
      sha256: sha256(pdf),
    });
    const voice = randomBytes(3_000);
    const note = await send(alice.sock, contact, {
      audio: voice,
      mimetype: 'audio/ogg; codecs=opus',
      ptt: true,
    });
    expect(await inboxEntry(contact, note)).toMatchObject({
      type: 'audio',
      ptt: true,
      sha256: sha256(voice),
    });
  });

  it('lists locations, contact cards, reactions and replies with what they carry', async () => {
    const contact = '628777100003';
    const question = await alice.sock.sendMessage(`${contact}@s.whatsapp.net`, { text: 'where are you?' });
    const text = question?.key.id ?? '';
    await inboxEntry(contact, text);
    const location = await send(alice.sock, contact, {
      location: { degreesLatitude: -6.2, degreesLongitude: 106.8, name: 'Monas' },
    });
    expect(await inboxEntry(contact, location)).toMatchObject({
      type: 'location',
      location: { latitude: -6.2, longitude: 106.8, name: 'Monas' },
    });
    const vcard =
      'BEGIN:VCARD\nVERSION:3.0\nFN:Bob\nTEL;type=CELL;waid=628777100009:+62 877 7100 009\nEND:VCARD';
    const card = await send(alice.sock, contact, { contacts: { contacts: [{ displayName: 'Bob', vcard }] } });
    expect(await inboxEntry(contact, card)).toMatchObject({
      type: 'contact',
      contact: { displayName: 'Bob', vcard },
    });
    const reaction = await send(alice.sock, contact, {
      react: { text: '👍', key: { remoteJid: `${contact}@s.whatsapp.net`, fromMe: true, id: text } },
    });
    expect(await inboxEntry(contact, reaction)).toMatchObject({
      type: 'reaction',
      reaction: { id: text, emoji: '👍' },
    });
    const reply = await alice.sock.sendMessage(
      `${contact}@s.whatsapp.net`,
      { text: 'never mind', mentions: [`${contact}@s.whatsapp.net`] },
      { quoted: question },
    );
    expect(await inboxEntry(contact, reply?.key.id ?? '')).toMatchObject({
      text: 'never mind',
      type: 'text',
      quoted: text,
      mentions: [`${contact}@s.whatsapp.net`],
    });
  });
});

describe('media a contact sends', () => {
  it('reaches the device with keys and a direct path, and downloads through Baileys byte for byte', async () => {
    const contact = '628777200001';
    const image = randomBytes(40_000);
    const got = await contactSends(contact, {
      kind: 'image',
      data: image.toString('base64'),
      mimetype: 'image/png',
      caption: 'look',
    });
    expect(got.message?.imageMessage).toMatchObject({ mimetype: 'image/png', caption: 'look' });
    const bytes = await downloadMediaMessage(
      got as proto.IWebMessageInfo & { key: proto.IMessageKey },
      'buffer',
      {
        options: { dispatcher } as RequestInit,
      },
    );
    expect(sha256(bytes)).toBe(sha256(image));
  });

  it('sends documents, locations, contact cards, reactions and quoted replies', async () => {
    const contact = '628777200002';
    const pdf = randomBytes(2_000);
    const doc = await contactSends(contact, {
      kind: 'document',
      data: pdf.toString('base64'),
      mimetype: 'application/pdf',
      fileName: 'menu.pdf',
      caption: 'our menu',
    });
    const document = doc.message?.documentWithCaptionMessage?.message?.documentMessage;
    expect(document).toMatchObject({
      fileName: 'menu.pdf',
      caption: 'our menu',
      mimetype: 'application/pdf',
    });
    const place = await contactSends(contact, {
      kind: 'location',
      location: { latitude: 51.5, longitude: -0.12, name: 'here' },
      quoted: doc.key?.id,
    });
    expect(place.message?.locationMessage).toMatchObject({
      degreesLatitude: 51.5,
      degreesLongitude: -0.12,
      contextInfo: { stanzaId: doc.key?.id },
    });
    const card = await contactSends(contact, {
      kind: 'contact',
      contact: { displayName: 'Ann', vcard: 'BEGIN:VCARD\nEND:VCARD' },
    });
    expect(card.message?.contactMessage?.displayName).toBe('Ann');
    const reactions: proto.IReaction[] = [];
    alice.sock.ev.on('messages.reaction', (list) => {
      for (const r of list) reactions.push({ ...r.reaction, key: r.key });
    });
    const mine = await send(alice.sock, contact, { text: 'hi' });
    await inboxEntry(contact, mine);
    await control(server, 'POST', `/sim/contacts/${contact}/messages`, {
      to: ALICE,
      kind: 'reaction',
      reaction: { id: mine, emoji: '❤️' },
    });
    const reaction = await eventually(() => reactions.find((r) => r.text === '❤️'));
    // Baileys turns the contact's key into its own view: the message is the device's own.
    expect(reaction.key).toMatchObject({ id: mine, fromMe: true });
  });
});

describe('the media servers refuse what WhatsApp refuses', () => {
  const upload = (path: string, body: Buffer) =>
    fetch(`${server.mediaUrl}${path}`, { method: 'POST', body, dispatcher } as RequestInit);

  it('an upload with a token media_conn never issued: 401', async () => {
    const body = randomBytes(64);
    const hash = createHash('sha256').update(body).digest('base64url');
    expect((await upload(`/mms/image/${hash}?auth=forged&token=${hash}`, body)).status).toBe(401);
  });

  it('a body that does not hash to the path: 400; an unknown file: 404', async () => {
    const token = server.sim.media.issueToken();
    const hash = createHash('sha256').update(randomBytes(8)).digest('base64url');
    expect((await upload(`/mms/image/${hash}?auth=${token}&token=${hash}`, randomBytes(64))).status).toBe(
      400,
    );
    const missing = await fetch(`${server.mediaUrl}/v/t62.7118-24/00.enc`, { dispatcher } as RequestInit);
    expect(missing.status).toBe(404);
  });

  it("a file changed on the way fails the contact's MAC check, and an expired one is reported missing", async () => {
    const contact = '628777300001';
    const image = randomBytes(1_000);
    const media = server.sim.media as unknown as { put(file: Buffer): string };
    const put = media.put.bind(server.sim.media);
    media.put = (file: Buffer) => {
      const tampered = Buffer.from(file);
      tampered[0] = (tampered[0] ?? 0) ^ 1;
      return put(tampered);
    };
    try {
      // The upload's hash check runs on what arrived; the file is altered only as it is stored.
      const id = await send(alice.sock, contact, { image, mimetype: 'image/jpeg' });
      expect(await inboxEntry(contact, id)).toMatchObject({
        type: 'image',
        mediaError: expect.stringMatching(/fileEncSha256/),
      });
    } finally {
      media.put = put;
    }
    const got = await contactSends(contact, {
      kind: 'image',
      data: image.toString('base64'),
      mimetype: 'image/jpeg',
    });
    expect((await control(server, 'POST', '/sim/faults', { kind: 'media-expired' })).status).toBe(200);
    await expect(
      downloadMediaMessage(got as proto.IWebMessageInfo & { key: proto.IMessageKey }, 'buffer', {
        options: { dispatcher } as RequestInit,
      }),
    ).rejects.toMatchObject({ output: { statusCode: 404 } });
  });

  it('a file gone from the media servers: its sender’s phone uploads it again, or says it has none', async () => {
    const contact = '628777300003';
    const image = randomBytes(2_000);
    const got = await contactSends(contact, {
      kind: 'image',
      data: image.toString('base64'),
      mimetype: 'image/png',
    });
    expect((await control(server, 'POST', '/sim/faults', { kind: 'media-expired' })).status).toBe(200);
    const message = got as proto.IWebMessageInfo & { key: proto.IMessageKey };
    const expired = message.message?.imageMessage?.directPath;
    // Baileys updates the message in place.
    const updated = await alice.sock.updateMediaMessage(message);
    expect(updated.message?.imageMessage?.directPath).not.toBe(expired);
    const bytes = await downloadMediaMessage(updated, 'buffer', { options: { dispatcher } as RequestInit });
    expect(sha256(bytes)).toBe(sha256(image));
    const never = {
      key: { remoteJid: `${contact}@s.whatsapp.net`, fromMe: false, id: '3EB0NEVERSENT0000000000' },
      message: { imageMessage: { mediaKey: randomBytes(32), directPath: '/v/t62.7118-24/gone.enc' } },
    };
    await expect(alice.sock.updateMediaMessage(never)).rejects.toMatchObject({ output: { statusCode: 404 } });
  });

  it('a contact message with a kind it cannot send: 400, nothing sent', async () => {
    const before = incoming.length;
    for (const body of [
      { kind: 'image', data: '***', mimetype: 'image/png' },
      { kind: 'image', data: 'AAAA' },
      { kind: 'location', location: { latitude: 'north' } },
      { kind: 'contact', contact: { displayName: 'x' } },
      { kind: 'reaction', reaction: { emoji: 'x' } },
      { kind: 'poll' },
    ]) {
      const res = await control(server, 'POST', '/sim/contacts/628777300002/messages', {
        to: ALICE,
        ...body,
      });
      expect(res.status, JSON.stringify(body)).toBe(400);
    }
    const unknown = await control(server, 'POST', '/sim/contacts/628777300002/messages', {
      to: ALICE,
      kind: 'reaction',
      reaction: { id: 'NOPE', emoji: 'x' },
    });
    expect(unknown.status).toBe(404);
    expect(incoming.length).toBe(before);
  });
});

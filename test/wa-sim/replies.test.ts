import { proto, type WASocket } from '@whiskeysockets/baileys';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  control,
  endSocket,
  eventually,
  type Linked,
  linkDevice,
  rawStanzas,
  startTestSimulator,
  statusReports,
} from './fixtures.js';
import type { SimServer } from './server.js';

let server: SimServer;
let alice: Linked;
let aliceLid: string;
let incoming: proto.IWebMessageInfo[];
let messageStanzas: ReturnType<typeof rawStanzas>;
const ALICE = '628666000001';

/** Every message someone else sent the socket, in order. */
const messagesTo = (sock: WASocket) => {
  const seen: proto.IWebMessageInfo[] = [];
  sock.ev.on('messages.upsert', ({ messages }) => {
    for (const m of messages) if (!m.key?.fromMe && m.message) seen.push(m);
  });
  return seen;
};

/** The contact sends through the control API; resolves with the message as Baileys emitted it. */
const contactSends = async (contact: string, body: Record<string, unknown>) => {
  const res = await control(server, 'POST', `/sim/contacts/${contact}/messages`, { to: ALICE, ...body });
  expect(res.status).toBe(200);
  return eventually(() => incoming.find((m) => m.key?.id === res.body.id));
};

const lidOf = async (phone: string) =>
  (await control(server, 'GET', `/sim/accounts/${phone}`)).body.lid as string;

beforeAll(async () => {
  server = await startTestSimulator();
  alice = await linkDevice(server, ALICE, 'Alice');
  aliceLid = await lidOf(ALICE);
  incoming = messagesTo(alice.sock);
  messageStanzas = rawStanzas(alice.sock, 'message');
});
afterAll(async () => {
  await endSocket(alice.sock);
  await server.close();
});

describe('a quoted reply from a contact', () => {
  it('quotes a message the device sent it: stanzaId, the device account as participant, the quoted text', async () => {
    const contact = '628666100001';
    const sent = await alice.sock.sendMessage(`${contact}@s.whatsapp.net`, { text: 'lunch at noon?' });
    const quoted = sent?.key.id ?? '';
    await eventually(async () => {
      const inbox = (await control(server, 'GET', `/sim/contacts/${contact}/messages`)).body as {
        id: string;
      }[];
      return inbox.find((m) => m.id === quoted);
    });
    const reply = await contactSends(contact, { text: 'yes, see you', quoted });
    expect(reply.message?.conversation).toBeFalsy();
    expect(reply.message?.extendedTextMessage).toMatchObject({
      text: 'yes, see you',
      contextInfo: {
        stanzaId: quoted,
        participant: `${ALICE}@s.whatsapp.net`,
        quotedMessage: { conversation: 'lunch at noon?' },
      },
    });
  });

  it("quotes the contact's own earlier message with the contact as participant", async () => {
    const contact = '628666100002';
    const first = await contactSends(contact, { text: 'did you get my parcel?' });
    const reply = await contactSends(contact, { text: 'hello?', quoted: first.key?.id });
    expect(reply.message?.extendedTextMessage?.contextInfo).toMatchObject({
      stanzaId: first.key?.id,
      participant: `${contact}@s.whatsapp.net`,
      quotedMessage: { conversation: 'did you get my parcel?' },
    });
  });

  it('404 for an id not in that chat, 400 for a quoted that is no id', async () => {
    const contact = '628666100003';
    const other = '628666100004';
    const elsewhere = await contactSends(other, { text: 'in another chat' });
    const path = `/sim/contacts/${contact}/messages`;
    for (const quoted of ['NO-SUCH-ID', elsewhere.key?.id]) {
      expect((await control(server, 'POST', path, { to: ALICE, text: 'x', quoted })).status).toBe(404);
    }
    for (const quoted of ['', 42, ['x']]) {
      expect((await control(server, 'POST', path, { to: ALICE, text: 'x', quoted })).status).toBe(400);
    }
  });
});

describe('a LID-addressed message from a contact', () => {
  it('comes from the LID with sender_pn and addressing_mode; Baileys keys it by the LID with the phone JID as alt', async () => {
    const contact = '628666200001';
    const msg = await contactSends(contact, { text: 'hi from my lid', addressing: 'lid' });
    const lid = await lidOf(contact);
    expect(msg.key).toMatchObject({
      remoteJid: lid,
      remoteJidAlt: `${contact}@s.whatsapp.net`,
      addressingMode: 'lid',
      fromMe: false,
    });
    expect(msg.message?.conversation).toBe('hi from my lid');
    const stanza = messageStanzas.find((s) => s.attrs.id === msg.key?.id);
    expect(stanza?.attrs).toMatchObject({
      from: lid,
      sender_pn: `${contact}@s.whatsapp.net`,
      addressing_mode: 'lid',
      notify: `Contact ${contact}`,
    });
    expect(stanza?.attrs.sender_lid).toBeUndefined();

    // The same Signal session serves both addressings: the device's receipt confirmed it, so the next
    // message, by phone number, goes out as msg and decrypts.
    const byPhone = await contactSends(contact, { text: 'and now by number' });
    expect(byPhone.key).toMatchObject({ remoteJid: `${contact}@s.whatsapp.net`, remoteJidAlt: lid });
    expect(byPhone.message?.conversation).toBe('and now by number');
    expect(server.sim.sentEncTypes(contact)).toEqual(['pkmsg', 'msg']);
  });

  it("a quoted reply by LID names the quoted message's author by LID", async () => {
    const contact = '628666200002';
    const statuses = statusReports(alice.sock);
    const sent = await alice.sock.sendMessage(`${contact}@s.whatsapp.net`, { text: 'question' });
    await eventually(() =>
      statuses.find((s) => s.id === sent?.key.id && s.status === proto.WebMessageInfo.Status.DELIVERY_ACK),
    );
    const reply = await contactSends(contact, { text: 'answer', quoted: sent?.key.id, addressing: 'lid' });
    expect(reply.key?.remoteJid).toBe(await lidOf(contact));
    expect(reply.message?.extendedTextMessage).toMatchObject({
      text: 'answer',
      contextInfo: {
        stanzaId: sent?.key.id,
        participant: aliceLid,
        quotedMessage: { conversation: 'question' },
      },
    });
  });

  it('400 for an addressing other than pn or lid', async () => {
    for (const addressing of ['LID', 'phone', 1, null]) {
      const res = await control(server, 'POST', '/sim/contacts/628666200003/messages', {
        to: ALICE,
        text: 'x',
        addressing,
      });
      expect(res.status).toBe(400);
    }
  });
});

import type { proto, WASocket } from '@whiskeysockets/baileys';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect } from './baileys-client.js';
import {
  control,
  endSocket,
  eventually,
  type Linked,
  linkDevice,
  rawStanzas,
  startTestSimulator,
} from './fixtures.js';
import { child } from './nodes.js';
import type { SimServer } from './server.js';

let server: SimServer;
let alice: Linked;
const ALICE = '628222000001';

type Inbox = { from: string; id: string; text: string; at: string; enc: string }[];
const inbox = async (phone: string) =>
  (await control(server, 'GET', `/sim/contacts/${phone}/messages`)).body as Inbox;

/** Waits for the contact to have received message `id`. */
const receivedBy = (phone: string, id: string | undefined | null) =>
  eventually(async () => (await inbox(phone)).find((m) => m.id === id));

const nextUpsert = (sock: WASocket) =>
  new Promise<proto.IWebMessageInfo>((resolve) => {
    const listener = ({ messages }: { messages: proto.IWebMessageInfo[] }) => {
      const incoming = messages.find((m) => !m.key?.fromMe);
      if (!incoming) return;
      sock.ev.off('messages.upsert', listener);
      resolve(incoming);
    };
    sock.ev.on('messages.upsert', listener);
  });

beforeAll(async () => {
  server = await startTestSimulator();
  alice = await linkDevice(server, ALICE, 'Alice');
});
afterAll(async () => {
  await endSocket(alice.sock);
  await server.close();
});

describe('messages from Baileys to a contact', () => {
  it.each([
    ['plain ASCII', 'Hello, world! 123'],
    ['emoji and other Unicode', 'Halo 👋🏽 — ñandú, 日本語, عربى, 𝔘𝔫𝔦𝔠𝔬𝔡𝔢'],
    ['a 4 KB text', 'abcdefghij'.repeat(410)],
  ])('delivers %s exactly, decrypted by the contact', async (_label, text) => {
    const contact = `6283330000${String(text.length).padStart(2, '0').slice(-2)}`;
    const sent = await alice.sock.sendMessage(`${contact}@s.whatsapp.net`, { text });
    const got = await receivedBy(contact, sent?.key.id);
    expect(got.text).toBe(text);
    expect(got.from).toBe(`${ALICE}@s.whatsapp.net`);
  });

  it('reuses the Signal session for the second message, and switches to msg once the contact answers', async () => {
    const contact = '628333111111';
    const fetchesBefore = server.sim.keyFetches;
    const first = await alice.sock.sendMessage(`${contact}@s.whatsapp.net`, { text: 'one' });
    const m1 = await receivedBy(contact, first?.key.id);
    const fetchesAfterFirst = server.sim.keyFetches;
    const second = await alice.sock.sendMessage(`${contact}@s.whatsapp.net`, { text: 'two' });
    const m2 = await receivedBy(contact, second?.key.id);
    expect(m1.enc).toBe('pkmsg');
    expect(fetchesAfterFirst).toBeGreaterThan(fetchesBefore);
    // No new pre-key bundle for the second message: the session opened by the first one is reused.
    expect(server.sim.keyFetches).toBe(fetchesAfterFirst);
    expect(m2.text).toBe('two');
    expect(server.sim.world.find(contact, 's.whatsapp.net')?.device0.sessionCount).toBe(1);

    const upsert = nextUpsert(alice.sock);
    await control(server, 'POST', `/sim/contacts/${contact}/messages`, { to: ALICE, text: 'got it' });
    await upsert;
    const third = await alice.sock.sendMessage(`${contact}@s.whatsapp.net`, { text: 'three' });
    expect((await receivedBy(contact, third?.key.id)).enc).toBe('msg');
  });

  it('acks the message and sends a delivery receipt back to the sender', async () => {
    // Baileys folds a receipt into its own still-buffered upsert of the sent message, or emits an update.
    const statuses = new Map<string, number>();
    alice.sock.ev.on('messages.update', (list) => {
      for (const u of list) if (u.key.id && u.update.status) statuses.set(u.key.id, u.update.status);
    });
    alice.sock.ev.on('messages.upsert', ({ messages }) => {
      for (const m of messages) if (m.key?.id && m.status) statuses.set(m.key.id, m.status);
    });
    const sent = await alice.sock.sendMessage('628333222222@s.whatsapp.net', { text: 'receipt please' });
    const id = sent?.key.id ?? '';
    await eventually(() => ((statuses.get(id) ?? 0) >= 3 ? true : undefined)); // DELIVERY_ACK
  });

  it('reports numbers starting with 999 as not on WhatsApp', async () => {
    const result = (await alice.sock.onWhatsApp('9990001112', '628333333333')) ?? [];
    expect(result).toEqual([{ jid: '628333333333@s.whatsapp.net', exists: true }]);
    const usync = await control(server, 'GET', '/sim/accounts/9990001112');
    expect(usync.status).toBe(404);
  });
});

describe('messages from a contact to Baileys', () => {
  it('reaches messages.upsert with the exact text, first as pkmsg and then as msg', async () => {
    const contact = '628444000001';
    for (const text of ['first 👋', 'second, same session']) {
      const upsert = nextUpsert(alice.sock);
      const res = await control(server, 'POST', `/sim/contacts/${contact}/messages`, { to: ALICE, text });
      expect(res.status).toBe(200);
      const msg = await upsert;
      expect(msg.key?.id).toBe(res.body.id);
      expect(msg.key?.remoteJid).toBe(`${contact}@s.whatsapp.net`);
      expect(msg.message?.conversation).toBe(text);
    }
    expect(server.sim.sentEncTypes(contact)).toEqual(['pkmsg', 'msg']);
  });

  it('queues messages for a device that is away and delivers them when it logs in', async () => {
    const bob = await linkDevice(server, '628444000002', 'Bob');
    await endSocket(bob.sock);
    const res = await control(server, 'POST', '/sim/contacts/628444000003/messages', {
      to: '628444000002',
      text: 'while you were away',
    });
    const back = connect(server.wsUrl, bob.auth);
    const msg = await nextUpsertAny(back);
    expect(msg.key?.id).toBe(res.body.id);
    expect(msg.message?.conversation).toBe('while you were away');
    await eventually(async () => {
      const info = await control(server, 'GET', '/sim/accounts/628444000002');
      const [device] = info.body.devices as { pending: number }[];
      return device?.pending === 0 ? true : undefined;
    });
    await endSocket(back);
  });

  it('delivers several messages queued while the device was away in order, each marked offline', async () => {
    const DORA = '628444000004';
    const contact = '628444000005';
    const dora = await linkDevice(server, DORA, 'Dora');
    await endSocket(dora.sock);
    const texts = ['one', 'two', 'three', 'four', 'five'];
    const ids: unknown[] = [];
    for (const text of texts) {
      ids.push(
        (await control(server, 'POST', `/sim/contacts/${contact}/messages`, { to: DORA, text })).body.id,
      );
    }
    const back = connect(server.wsUrl, dora.auth);
    const stanzas = rawStanzas(back, 'message');
    const seen: { id: string; text: string; type: string }[] = [];
    back.ev.on('messages.upsert', ({ messages, type }) => {
      for (const m of messages) {
        if (!m.key?.fromMe && m.key?.id && m.message?.conversation) {
          seen.push({ id: m.key.id, text: m.message.conversation, type });
        }
      }
    });
    await eventually(() => (seen.length >= texts.length ? true : undefined));
    expect(seen).toEqual(texts.map((text, i) => ({ id: ids[i], text, type: 'append' })));
    const fromContact = stanzas.filter((s) => ids.includes(s.attrs.id));
    expect(fromContact.map((s) => [s.attrs.id, s.attrs.offline])).toEqual(ids.map((id) => [id, '1']));
    await endSocket(back);
  });

  it('answers a retry receipt: a message the device cannot decrypt comes again under the same id, from a new session once the device sends its keys', async () => {
    const contact = '628444000006';
    const upsert = nextUpsert(alice.sock);
    await control(server, 'POST', `/sim/contacts/${contact}/messages`, { to: ALICE, text: 'before' });
    await upsert;
    // The device loses its side of the Signal session, as after a crash between decrypting a message
    // and acknowledging it: the next message cannot be decrypted.
    const { lid } = (await control(server, 'GET', `/sim/accounts/${contact}`)).body as unknown as {
      lid: string;
    };
    const addresses = [`${contact}@s.whatsapp.net`, lid.includes('@') ? lid : `${lid}@lid`].map((jid) =>
      alice.sock.signalRepository.jidToSignalProtocolAddress(jid),
    );
    await alice.auth.keys.set({ session: Object.fromEntries(addresses.map((a) => [a, null])) });
    const retries = rawStanzas(alice.sock, 'message');
    const decrypted = new Promise<proto.IWebMessageInfo>((resolve) => {
      alice.sock.ev.on('messages.upsert', ({ messages }) => {
        const m = messages.find((x) => x.message?.conversation === 'after');
        if (m) resolve(m);
      });
    });
    const res = await control(server, 'POST', `/sim/contacts/${contact}/messages`, {
      to: ALICE,
      text: 'after',
    });
    const msg = await decrypted;
    expect(msg.key?.id).toBe(res.body.id);
    // Baileys' first retry receipt has no keys: the phone encrypts again on its session, which the
    // device still cannot read; the second carries the device's keys and the copy opens a new session.
    const copies = retries.filter((s) => s.attrs.id === res.body.id);
    expect(copies.map((s) => [child(s, 'enc')?.attrs.type, child(s, 'enc')?.attrs.count])).toEqual([
      ['msg', undefined],
      ['msg', '1'],
      ['pkmsg', '2'],
    ]);
    await eventually(async () => {
      const info = await control(server, 'GET', `/sim/accounts/${ALICE}`);
      return (info.body.devices as { pending: number }[]).every((d) => d.pending === 0) ? true : undefined;
    });
  });

  it('asks again for a message its phone cannot decrypt: Baileys sends it once more, on a new session, from what its app kept', async () => {
    const contact = '628444000007';
    const kept = new Map<string, proto.IMessage>();
    const bob = await linkDevice(server, '628222000002', 'Bob', {
      getMessage: async (key) => (key.id ? kept.get(key.id) : undefined),
    });
    const send = async (text: string) => {
      const sent = await bob.sock.sendMessage(`${contact}@s.whatsapp.net`, { text });
      if (sent?.key.id && sent.message) kept.set(sent.key.id, sent.message);
      return sent?.key.id;
    };
    const before = await send('before');
    expect((await receivedBy(contact, before)).enc).toBe('pkmsg');
    const loss = await control(server, 'POST', '/sim/faults', { kind: 'sessions-lost', phone: contact });
    expect(loss.body).toEqual({ kind: 'sessions-lost', affected: 1 });
    const asked = rawStanzas(bob.sock, 'receipt');
    const after = await send('after');
    // The phone has no session for the device's `msg`: it asks, and the copy comes on a new session.
    const got = await receivedBy(contact, after);
    expect(got).toMatchObject({ text: 'after', enc: 'pkmsg' });
    const retry = asked.find((r) => r.attrs.id === after && r.attrs.type === 'retry');
    expect(retry?.attrs.from).toBe(`${contact}@s.whatsapp.net`);
    expect(child(retry, 'retry')?.attrs.count).toBe('1');
    expect(child(retry, 'registration')?.content).toBeInstanceOf(Uint8Array);
    // The new session carries what comes next.
    expect((await receivedBy(contact, await send('later'))).text).toBe('later');
    await endSocket(bob.sock);
  });

  it('refuses a sessions-lost fault without the phone of an account: 400', async () => {
    for (const phone of [undefined, '628999999999']) {
      const res = await control(server, 'POST', '/sim/faults', { kind: 'sessions-lost', phone });
      expect(res.status).toBe(400);
      expect(res.body.error).toBe('sessions-lost needs the phone of an account');
    }
  });

  it('a phone away reads what devices sent it, in order, once it is back', async () => {
    const contact = '628444000008';
    const first = await alice.sock.sendMessage(`${contact}@s.whatsapp.net`, { text: 'one' });
    await receivedBy(contact, first?.key.id);
    const away = await control(server, 'POST', '/sim/faults', {
      kind: 'phone-away',
      phone: contact,
      ms: 1_500,
    });
    expect(away.body).toEqual({ kind: 'phone-away', affected: 1 });
    const sent = [];
    for (const text of ['two', 'three'])
      sent.push((await alice.sock.sendMessage(`${contact}@s.whatsapp.net`, { text }))?.key.id);
    expect((await inbox(contact)).map((m) => m.text)).toEqual(['one']);
    await receivedBy(contact, sent[1]);
    expect((await inbox(contact)).map((m) => m.text)).toEqual(['one', 'two', 'three']);
  });

  it('refuses a phone-away fault without an account or a time from 1 ms to 10 minutes: 400', async () => {
    for (const body of [
      { ms: 1000 },
      { phone: '628999999999', ms: 1000 },
      { phone: ALICE },
      { phone: ALICE, ms: 0 },
      { phone: ALICE, ms: 600_001 },
      { phone: ALICE, ms: '1000' },
    ]) {
      const res = await control(server, 'POST', '/sim/faults', { kind: 'phone-away', ...body });
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(res.body.error).toBe('phone-away needs the phone of an account and ms between 1 and 600000');
    }
  });

  it('refuses bad control calls: unknown account 404, missing text 400, bad phone 400', async () => {
    expect(
      (
        await control(server, 'POST', '/sim/contacts/628444000009/messages', {
          to: '628000000000',
          text: 'x',
        })
      ).status,
    ).toBe(404);
    expect((await control(server, 'POST', '/sim/contacts/628444000009/messages', { to: ALICE })).status).toBe(
      400,
    );
    expect(
      (await control(server, 'POST', '/sim/contacts/999123456/messages', { to: ALICE, text: 'x' })).status,
    ).toBe(400);
  });
});

/** The first upsert of any type carrying a message that is not ours (offline ones come as 'append'). */
const nextUpsertAny = (sock: WASocket) =>
  new Promise<proto.IWebMessageInfo>((resolve) => {
    sock.ev.on('messages.upsert', ({ messages }) => {
      const m = messages.find((x) => !x.key?.fromMe && x.message);
      if (m) resolve(m);
    });
  });

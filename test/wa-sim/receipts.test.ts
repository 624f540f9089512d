import { proto, type WASocket } from '@whiskeysockets/baileys';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect } from './baileys-client.js';
import {
  control,
  endSocket,
  eventually,
  type Linked,
  linkDevice,
  rawStanzas,
  type StatusReport,
  startTestSimulator,
  statusReports,
} from './fixtures.js';
import type { SimServer } from './server.js';

const { DELIVERY_ACK, READ, PLAYED } = proto.WebMessageInfo.Status;

let server: SimServer;
let alice: Linked;
let aliceStatuses: StatusReport[];
let aliceReceipts: ReturnType<typeof rawStanzas>;
const ALICE = '628555000001';

/** An inbox entry; `deliveries` shows only above 1 and `receipt` only once it is read or played. */
type InboxEntry = {
  from: string;
  id: string;
  text: string;
  at: string;
  enc: string;
  deliveries?: number;
  receipt?: string;
};
const inbox = async (phone: string) =>
  (await control(server, 'GET', `/sim/contacts/${phone}/messages`)).body as unknown as InboxEntry[];

/** The statuses Baileys reported for `id`, from DELIVERY_ACK on, in order. */
const statusesOf = (reports: StatusReport[], id: string) =>
  reports.filter((r) => r.id === id && r.status >= DELIVERY_ACK).map((r) => r.status);

/** Waits until Baileys reported `status` for `id`. */
const reached = (reports: StatusReport[], id: string, status: number) =>
  eventually(() => reports.find((r) => r.id === id && r.status === status));

/** The device sends `text` to `contact` and waits until the contact's phone has it and said so. */
const sendAndDeliver = async (sock: WASocket, reports: StatusReport[], contact: string, text: string) => {
  const sent = await sock.sendMessage(`${contact}@s.whatsapp.net`, { text });
  const id = sent?.key.id ?? '';
  await reached(reports, id, DELIVERY_ACK);
  return id;
};

const pendingOf = async (phone: string) =>
  ((await control(server, 'GET', `/sim/accounts/${phone}`)).body.devices as { pending: number }[]).map(
    (d) => d.pending,
  );

beforeAll(async () => {
  server = await startTestSimulator();
  alice = await linkDevice(server, ALICE, 'Alice');
  aliceStatuses = statusReports(alice.sock);
  aliceReceipts = rawStanzas(alice.sock, 'receipt');
});
afterAll(async () => {
  await endSocket(alice.sock);
  await server.close();
});

describe("a contact's receipts for what a linked device sent it", () => {
  it('delivery, read and played reach messages.update as DELIVERY_ACK, READ and PLAYED, in that order', async () => {
    const contact = '628555100001';
    const id = await sendAndDeliver(alice.sock, aliceStatuses, contact, 'a voice note, say');

    const read = await control(server, 'POST', `/sim/contacts/${contact}/read`, { to: ALICE, ids: [id] });
    expect(read).toEqual({ status: 200, body: { ids: [id], skipped: [] } });
    await reached(aliceStatuses, id, READ);
    const played = await control(server, 'POST', `/sim/contacts/${contact}/played`, { to: ALICE, ids: [id] });
    expect(played).toEqual({ status: 200, body: { ids: [id], skipped: [] } });
    await reached(aliceStatuses, id, PLAYED);

    expect(statusesOf(aliceStatuses, id)).toEqual([DELIVERY_ACK, READ, PLAYED]);
    const update = aliceStatuses.find((r) => r.id === id && r.status === READ);
    expect(update).toMatchObject({ remoteJid: `${contact}@s.whatsapp.net`, fromMe: true });
    // On the wire: from the contact's phone number, typed, with a timestamp, no list for one id.
    const wire = aliceReceipts.filter((r) => r.attrs.id === id).map((r) => r.attrs);
    expect(wire).toEqual([
      { from: `${contact}@s.whatsapp.net`, id, t: expect.stringMatching(/^\d+$/) },
      { from: `${contact}@s.whatsapp.net`, id, t: expect.stringMatching(/^\d+$/), type: 'read' },
      { from: `${contact}@s.whatsapp.net`, id, t: expect.stringMatching(/^\d+$/), type: 'played' },
    ]);
    const entry = (await inbox(contact)).find((m) => m.id === id);
    expect(entry?.receipt).toBe('played');
    expect(entry).not.toHaveProperty('deliveries'); // delivered once
    // Acked by Baileys, so nothing is left waiting for the device.
    await eventually(async () => ((await pendingOf(ALICE))[0] === 0 ? true : undefined));
  });

  it('reads several messages with one receipt: the first id in `id`, the others in a list', async () => {
    const contact = '628555100002';
    const ids: string[] = [];
    for (const text of ['one', 'two', 'three']) {
      ids.push(await sendAndDeliver(alice.sock, aliceStatuses, contact, text));
    }
    const res = await control(server, 'POST', `/sim/contacts/${contact}/read`, { to: ALICE, ids });
    expect(res.body).toEqual({ ids, skipped: [] });
    for (const id of ids) await reached(aliceStatuses, id, READ);

    const reads = aliceReceipts.filter((r) => r.attrs.type === 'read' && ids.includes(r.attrs.id ?? ''));
    expect(reads).toHaveLength(1);
    expect(reads[0]?.attrs.id).toBe(ids[0]);
    expect(reads[0]?.content).toEqual([
      { tag: 'list', attrs: {}, content: ids.slice(1).map((id) => ({ tag: 'item', attrs: { id } })) },
    ]);
  });

  it("goes to every linked device of the sender's account, not only the one that sent", async () => {
    const BOB = '628555000002';
    const contact = '628555100003';
    const first = await linkDevice(server, BOB, 'Bob');
    const second = await linkDevice(server, BOB, 'Bob');
    try {
      const onFirst = statusReports(first.sock);
      const onSecond = statusReports(second.sock);
      const id = await sendAndDeliver(first.sock, onFirst, contact, 'from the first device');
      await control(server, 'POST', `/sim/contacts/${contact}/read`, { to: BOB, ids: [id] });
      await reached(onFirst, id, READ);
      const other = await reached(onSecond, id, READ);
      expect(other).toMatchObject({ remoteJid: `${contact}@s.whatsapp.net`, fromMe: true });
      expect(statusesOf(onSecond, id)).toEqual([DELIVERY_ACK, READ]);
    } finally {
      await endSocket(first.sock);
      await endSocket(second.sock);
    }
  });

  it('never moves a status back: a repeated or older receipt is skipped, a resend gets no delivery receipt after the read', async () => {
    const contact = '628555100004';
    const id = await sendAndDeliver(alice.sock, aliceStatuses, contact, 'read me');
    await control(server, 'POST', `/sim/contacts/${contact}/played`, { to: ALICE, ids: [id] });
    await reached(aliceStatuses, id, PLAYED);
    const again = await control(server, 'POST', `/sim/contacts/${contact}/read`, { to: ALICE, ids: [id] });
    expect(again).toEqual({ status: 200, body: { ids: [], skipped: [id] } });

    // The device sends the same message id again, as a resend does: counted, not listed twice.
    await alice.sock.relayMessage(
      `${contact}@s.whatsapp.net`,
      { extendedTextMessage: { text: 'read me' } },
      { messageId: id },
    );
    await eventually(async () =>
      (await inbox(contact)).find((m) => m.id === id)?.deliveries === 2 ? true : undefined,
    );
    expect((await inbox(contact)).filter((m) => m.id === id)).toMatchObject([
      { id, text: 'read me', deliveries: 2, receipt: 'played' },
    ]);
    // A later message's delivery receipt comes after anything the resend caused, on the same socket.
    const marker = await sendAndDeliver(alice.sock, aliceStatuses, contact, 'marker');
    expect(aliceReceipts.findIndex((r) => r.attrs.id === marker)).toBeGreaterThan(-1);
    expect(statusesOf(aliceStatuses, id)).toEqual([DELIVERY_ACK, PLAYED]);
    expect(aliceReceipts.filter((r) => r.attrs.id === id).map((r) => r.attrs.type)).toEqual([
      undefined,
      'played',
    ]);
  });

  it('a resend before any read gets a delivery receipt again', async () => {
    const contact = '628555100005';
    const id = await sendAndDeliver(alice.sock, aliceStatuses, contact, 'twice');
    await alice.sock.relayMessage(
      `${contact}@s.whatsapp.net`,
      { extendedTextMessage: { text: 'twice' } },
      { messageId: id },
    );
    await eventually(() => (aliceReceipts.filter((r) => r.attrs.id === id).length === 2 ? true : undefined));
    const entries = (await inbox(contact)).filter((m) => m.id === id);
    expect(entries).toEqual([
      {
        from: `${ALICE}@s.whatsapp.net`,
        id,
        text: 'twice',
        at: expect.any(String),
        enc: 'pkmsg',
        deliveries: 2,
      },
    ]);
  });

  it('a read receipt from the contact’s LID reaches Baileys keyed by that LID', async () => {
    const contact = '628555100006';
    const id = await sendAndDeliver(alice.sock, aliceStatuses, contact, 'by lid');
    const lid = (await control(server, 'GET', `/sim/accounts/${contact}`)).body.lid as string;
    const res = await control(server, 'POST', `/sim/contacts/${contact}/read`, {
      to: ALICE,
      ids: [id],
      addressing: 'lid',
    });
    expect(res.status).toBe(200);
    // Baileys takes the receipt's `from` as the key's remoteJid as it is, with no phone-number alternative.
    expect(await reached(aliceStatuses, id, READ)).toMatchObject({ remoteJid: lid, fromMe: true });
    expect(aliceReceipts.find((r) => r.attrs.type === 'read' && r.attrs.id === id)?.attrs.from).toBe(lid);
  });
});

describe('receipts for a device that is away', () => {
  it('queues a read and delivers it, marked offline, when the device logs in again', async () => {
    const CAROL = '628555000003';
    const contact = '628555100007';
    const carol = await linkDevice(server, CAROL, 'Carol');
    const first = statusReports(carol.sock);
    const ids = [
      await sendAndDeliver(carol.sock, first, contact, 'before I go'),
      await sendAndDeliver(carol.sock, first, contact, 'and one more'),
    ];
    await eventually(async () => ((await pendingOf(CAROL))[0] === 0 ? true : undefined));
    await endSocket(carol.sock);

    expect((await control(server, 'POST', `/sim/contacts/${contact}/read`, { to: CAROL, ids })).status).toBe(
      200,
    );
    expect(await pendingOf(CAROL)).toEqual([1]);

    const back = connect(server.wsUrl, carol.auth);
    const statuses = statusReports(back);
    const receipts = rawStanzas(back, 'receipt');
    for (const id of ids) await reached(statuses, id, READ);
    expect(receipts.map((r) => r.attrs)).toEqual([
      { from: `${contact}@s.whatsapp.net`, id: ids[0], t: expect.any(String), type: 'read', offline: '1' },
    ]);
    await eventually(async () => ((await pendingOf(CAROL))[0] === 0 ? true : undefined));
    await endSocket(back);
  });
});

describe('bad read and played calls', () => {
  it.each(['read', 'played'])(
    '%s: 400 for malformed input, 404 for what the contact never received',
    async (kind) => {
      const contact = '628555100008';
      const path = `/sim/contacts/${contact}/${kind}`;
      const id = await sendAndDeliver(alice.sock, aliceStatuses, contact, `for the ${kind} errors`);
      const bad = [
        { ids: [id] },
        { to: '', ids: [id] },
        { to: 42, ids: [id] },
        { to: ALICE },
        { to: ALICE, ids: [] },
        { to: ALICE, ids: id },
        { to: ALICE, ids: [id, 7] },
        { to: ALICE, ids: [''] },
        { to: ALICE, ids: [id], addressing: 'phone' },
        '[1,2]',
        'not json',
      ];
      for (const body of bad)
        expect((await control(server, 'POST', path, body)).status, JSON.stringify(body)).toBe(400);
      expect(
        (await control(server, 'POST', `/sim/contacts/999123456/${kind}`, { to: ALICE, ids: [id] })).status,
      ).toBe(400);
      expect((await control(server, 'GET', path)).status).toBe(405);

      // No such account, or ids the contact did not get from `to`: 404, and nothing is sent at all.
      expect((await control(server, 'POST', path, { to: '628000000000', ids: [id] })).status).toBe(404);
      const unknown = await control(server, 'POST', path, { to: ALICE, ids: [id, 'NOPE'] });
      expect(unknown.status).toBe(404);
      expect(unknown.body.unknown).toEqual(['NOPE']);
      const stranger = await control(server, 'POST', `/sim/contacts/628555199999/${kind}`, {
        to: ALICE,
        ids: [id],
      });
      expect(stranger.status).toBe(404);
      expect(stranger.body.unknown).toEqual([id]);
      // Still only delivered: the entry has no `receipt`.
      expect((await inbox(contact)).find((m) => m.id === id)).toEqual({
        from: `${ALICE}@s.whatsapp.net`,
        id,
        text: `for the ${kind} errors`,
        at: expect.any(String),
        enc: expect.any(String),
      });
      expect(aliceReceipts.filter((r) => r.attrs.id === id && r.attrs.type)).toEqual([]);
    },
  );
});

import type { BinaryNode, proto } from '@whiskeysockets/baileys';
import { unixTime } from './nodes.js';
import { newMessageId, type Simulator } from './simulator.js';
import { type Account, RECEIPT_TYPES, type ReceiptType, type Received, type Sent } from './world.js';

/** How a contact's stanzas name it: by phone number (`pn`, the default) or by LID. */
export type Addressing = 'pn' | 'lid';

/** The phone-side Signal address of a linked device. */
export const address = (account: Account, deviceId: number) => `${account.phone}.${deviceId}`;

export const pnJid = (account: Account) => `${account.phone}@s.whatsapp.net`;
export const lidJid = (account: Account) => `${account.lid}@lid`;
const jidOf = (account: Account, addressing: Addressing) =>
  addressing === 'lid' ? lidJid(account) : pnJid(account);

const textOf = (m: proto.IMessage | null | undefined): string | undefined =>
  m?.conversation ?? m?.extendedTextMessage?.text ?? undefined;

const rank = (type: ReceiptType) => RECEIPT_TYPES.indexOf(type);

/**
 * A receipt from `contact` to every linked device of `target` (the one that sent the messages and the
 * account's others, as WhatsApp fans receipts out): the first id in `id`, the rest as
 * `<list><item id/></list>`, no `type` for a delivery. Queued for a device that is away.
 */
export const sendReceipt = (
  sim: Simulator,
  contact: Account,
  target: Account,
  type: ReceiptType,
  ids: string[],
  from: string = pnJid(contact),
) => {
  const [first, ...rest] = ids;
  if (first === undefined) return;
  const stanza: BinaryNode = {
    tag: 'receipt',
    attrs: { from, id: first, t: unixTime(), ...(type === 'delivery' ? {} : { type }) },
    content: rest.length
      ? [{ tag: 'list', attrs: {}, content: rest.map((id) => ({ tag: 'item', attrs: { id } })) }]
      : undefined,
  };
  for (const device of target.devices.values()) sim.deliver(device, stanza);
};

/**
 * A contact's phone got message `id` from `sender` (decrypted, or not when `message` is undefined).
 * The first copy goes into its inbox; a resend only counts as one more delivery. Each decrypted copy
 * is answered with a delivery receipt, unless the phone already sent a read or played receipt for
 * that id: a status never goes back.
 */
export const receiveFromDevice = (
  sim: Simulator,
  contact: Account,
  sender: Account,
  id: string,
  enc: string,
  message: proto.IMessage | undefined,
  chat: string,
) => {
  const from = pnJid(sender);
  let entry = contact.inbox.find((m) => m.id === id && m.from === from);
  if (entry) entry.deliveries++;
  else if (message) {
    entry = {
      from,
      id,
      text: textOf(message) ?? '',
      at: new Date().toISOString(),
      enc,
      deliveries: 1,
      receipt: 'delivery',
    };
    contact.inbox.push(entry);
  } else return;
  sim.world.changed();
  if (message && entry.receipt === 'delivery') sendReceipt(sim, contact, sender, 'delivery', [id], chat);
};

/** What a contact's read or played receipt call comes to: which ids it carried and which it skipped. */
export type ReceiptOutcome =
  | { ok: true; ids: string[]; skipped: string[] }
  | { ok: false; unknown: string[] };

/**
 * `contact` read (or played) messages `ids` that `target`'s devices sent it. Every id must be in the
 * contact's inbox from `target`, or nothing is sent. Ids whose status is already there or further
 * are skipped; the rest go out as one receipt.
 */
export const contactReads = (
  sim: Simulator,
  contact: Account,
  target: Account,
  type: 'read' | 'played',
  ids: string[],
  addressing: Addressing,
): ReceiptOutcome => {
  const from = pnJid(target);
  const entries = ids.map((id) => contact.inbox.find((m) => m.id === id && m.from === from));
  const unknown = ids.filter((_, i) => !entries[i]);
  if (unknown.length) return { ok: false, unknown };
  const fresh: Received[] = [];
  const skipped: string[] = [];
  for (const entry of entries) {
    if (!entry) continue;
    if (rank(entry.receipt) >= rank(type)) skipped.push(entry.id);
    else fresh.push(entry);
  }
  for (const entry of fresh) entry.receipt = type;
  if (fresh.length) {
    sim.world.changed();
    sendReceipt(
      sim,
      contact,
      target,
      type,
      fresh.map((e) => e.id),
      jidOf(contact, addressing),
    );
  }
  return { ok: true, ids: fresh.map((e) => e.id), skipped };
};

/** A message in the chat of `contact` with `target` that the contact can quote: its author and text. */
export const findInChat = (
  contact: Account,
  target: Account,
  id: string,
): { author: Account; text: string } | undefined => {
  const received = contact.inbox.find((m) => m.id === id && m.from === pnJid(target));
  if (received) return { author: target, text: received.text };
  const sent = contact.sent.find((m) => m.id === id && m.to === target.phone);
  return sent && { author: contact, text: sent.text };
};

/**
 * A contact's phone sends `text` to every linked device of `target`: pkmsg first, msg after. With
 * `quoted`, an `extendedTextMessage` whose `contextInfo` quotes that message, as WhatsApp clients
 * send replies. With `lid` addressing the stanza comes from the contact's LID, with `sender_pn` and
 * `addressing_mode="lid"`, as WhatsApp sends LID-addressed chats; otherwise from its phone number,
 * with `sender_lid`.
 */
export const sendFromContact = async (
  sim: Simulator,
  contact: Account,
  target: Account,
  text: string,
  opts: { quoted?: { id: string; author: Account; text: string }; addressing?: Addressing } = {},
) => {
  const addressing = opts.addressing ?? 'pn';
  const id = newMessageId();
  const record: Sent = { id, to: target.phone, text, enc: [] };
  contact.sent.push(record);
  sim.world.changed();
  const { quoted } = opts;
  const message: proto.IMessage = quoted
    ? {
        extendedTextMessage: {
          text,
          contextInfo: {
            stanzaId: quoted.id,
            participant: jidOf(quoted.author, addressing),
            quotedMessage: { conversation: quoted.text },
          },
        },
      }
    : { conversation: text };
  const addressingAttrs: Record<string, string> =
    addressing === 'lid'
      ? { from: lidJid(contact), sender_pn: pnJid(contact), addressing_mode: 'lid' }
      : { from: pnJid(contact), sender_lid: lidJid(contact) };
  for (const device of target.devices.values()) {
    const { type, ciphertext } = await contact.device0.encrypt(address(target, device.id), message, () =>
      sim.world.linkedDeviceBundle(device),
    );
    record.enc.push(type);
    sim.deliver(device, {
      tag: 'message',
      attrs: { id, t: unixTime(), type: 'text', notify: contact.name, ...addressingAttrs },
      content: [{ tag: 'enc', attrs: { v: '2', type }, content: ciphertext }],
    });
  }
  return id;
};

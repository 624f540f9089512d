import { type BinaryNode, jidDecode, type proto } from '@whiskeysockets/baileys';
import { buildContent, type ContactContent, describeContent } from './content.js';
import { bigEndian, child, childBytes, uintBE, unixTime } from './nodes.js';
import type { PreKeyBundle } from './phone.js';
import { newMessageId, type Simulator } from './simulator.js';
import {
  type Account,
  type LinkedDevice,
  pendingKey,
  RECEIPT_TYPES,
  type ReceiptType,
  type Received,
  type Sent,
} from './world.js';

/** A phone answers this many retry receipts for one message, then gives up on that device. */
const MAX_RESENDS = 5;
/** A phone asks a device this many times for a message it cannot decrypt (Baileys' own limit), then not. */
const MAX_RETRIES_ASKED = 5;

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
 * A contact's phone got message `id` from `sender`'s `device` (decrypted, or not when `message` is
 * undefined). The first copy goes into its inbox; a resend only counts as one more delivery; a first copy
 * it could not decrypt is asked for again. Each decrypted copy
 * is answered with a delivery receipt, unless the phone already sent a read or played receipt for
 * that id: a status never goes back.
 */
export const receiveFromDevice = (
  sim: Simulator,
  contact: Account,
  { account: sender, device }: { account: Account; device: LinkedDevice },
  id: string,
  enc: string,
  message: proto.IMessage | undefined,
  chat: string,
) => {
  const from = pnJid(sender);
  let entry = contact.inbox.find((m) => m.id === id && m.from === from);
  if (entry) entry.deliveries++;
  else if (!message) return askAgain(sim, contact, sender, device, id);
  else {
    const details = describeContent(sim.media, message);
    entry = {
      from,
      id,
      text: textOf(message) ?? '',
      at: new Date().toISOString(),
      enc,
      deliveries: 1,
      receipt: 'delivery',
      ...(details ? { details } : {}),
    };
    contact.inbox.push(entry);
  }
  sim.world.changed();
  if (message && entry.receipt === 'delivery') sendReceipt(sim, contact, sender, 'delivery', [id], chat);
};

/**
 * A contact's phone could not decrypt message `id` from a linked device of `sender`: as WhatsApp's phones
 * do, it asks that device for it again (`<receipt type="retry">` with its registration id; the server
 * relays it), and the device encrypts it once more, on a new session. The keys a phone may add from the
 * second request on are left out: the device then fetches the phone's bundle from the server instead.
 */
export const askAgain = (
  sim: Simulator,
  contact: Account,
  sender: Account,
  device: LinkedDevice,
  id: string,
) => {
  const count = sim.countRetryAsked(`${contact.phone}/${address(sender, device.id)}/${id}`);
  if (count > MAX_RETRIES_ASKED) return;
  const t = unixTime();
  sim.deliver(device, {
    tag: 'receipt',
    attrs: { from: pnJid(contact), id, t, type: 'retry' },
    content: [
      { tag: 'retry', attrs: { count: String(count), id, t, v: '1' } },
      { tag: 'registration', attrs: {}, content: bigEndian(contact.device0.registrationId, 4) },
    ],
  });
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

/** What the Sent record keeps as a message's text (for quoting it later): its text or caption. */
const textForQuote = (content: ContactContent) =>
  content.kind === 'text' ? content.text : 'caption' in content ? (content.caption ?? '') : '';

/** The stanza `type` WhatsApp gives a message: `media` for a file, `reaction`, or `text`. */
const stanzaType = (content: ContactContent) =>
  content.kind === 'reaction'
    ? 'reaction'
    : ['text', 'location', 'contact', 'edit', 'delete'].includes(content.kind)
      ? 'text'
      : 'media';

/** WhatsApp marks an edit (`edit="1"`) and a deletion for everyone (`edit="7"`) on the stanza. */
const editAttr = (content: ContactContent): Record<string, string> =>
  content.kind === 'edit' ? { edit: '1' } : content.kind === 'delete' ? { edit: '7' } : {};

/**
 * A contact's phone sends a message to every linked device of `target`: pkmsg first, msg after. A file
 * is encrypted and uploaded to the media servers first. With `quoted`, the message's `contextInfo`
 * quotes that message, as WhatsApp clients send replies (a text becomes an `extendedTextMessage`). With
 * `lid` addressing the stanza comes from the contact's LID, with `sender_pn` and `addressing_mode="lid"`,
 * as WhatsApp sends LID-addressed chats; otherwise from its phone number, with `sender_lid`.
 */
export const sendFromContact = async (
  sim: Simulator,
  contact: Account,
  target: Account,
  content: ContactContent,
  opts: { quoted?: { id: string; author: Account; text: string }; addressing?: Addressing } = {},
) => {
  const addressing = opts.addressing ?? 'pn';
  const id = newMessageId();
  const record: Sent = { id, to: target.phone, text: textForQuote(content), enc: [] };
  contact.sent.push(record);
  sim.world.changed();
  const { quoted } = opts;
  const context: proto.IContextInfo | undefined = quoted && {
    stanzaId: quoted.id,
    participant: jidOf(quoted.author, addressing),
    quotedMessage: { conversation: quoted.text },
  };
  const message = buildContent(sim.media, sim.mediaHost, content, context, (file) =>
    sim.rememberSentFile(contact.phone, id, file),
  );
  sim.rememberSent(contact.phone, id, message);
  const addressingAttrs: Record<string, string> =
    addressing === 'lid'
      ? { from: lidJid(contact), sender_pn: pnJid(contact), addressing_mode: 'lid' }
      : { from: pnJid(contact), sender_lid: lidJid(contact) };
  const type = stanzaType(content);
  for (const device of target.devices.values()) {
    const encrypted = await contact.device0.encrypt(address(target, device.id), message, () =>
      sim.world.linkedDeviceBundle(device),
    );
    record.enc.push(encrypted.type);
    sim.deliver(device, {
      tag: 'message',
      attrs: { id, t: unixTime(), type, notify: contact.name, ...editAttr(content), ...addressingAttrs },
      content: [
        {
          tag: 'enc',
          attrs: { v: '2', type: encrypted.type, ...(type === 'media' ? { mediatype: content.kind } : {}) },
          content: encrypted.ciphertext,
        },
      ],
    });
  }
  return id;
};

/**
 * A linked device of `target` could not decrypt a message a contact's phone sent it and asks for it again
 * (`<receipt type="retry">`, relayed to the sender as WhatsApp does). The phone encrypts it once more for
 * that device under the same id; when the receipt carries the device's keys (from Baileys' second retry
 * on, or when it has no session at all) it first opens a new session from them, so the copy is a pkmsg.
 */
export const resendOnRetry = async (
  sim: Simulator,
  target: Account,
  device: LinkedDevice,
  receipt: BinaryNode,
) => {
  const id = receipt.attrs.id ?? '';
  const pending = device.pending.get(pendingKey('message', id));
  const from = jidDecode(pending?.attrs.from);
  // Messages relayed from another linked device are not resent: that sender is not simulated here.
  if (!pending || !from?.user || from.device) return;
  const contact = sim.world.find(from.user, from.server === 'lid' ? 'lid' : 's.whatsapp.net');
  const message = contact && sim.sentMessage(contact.phone, id);
  const count = Number(child(receipt, 'retry')?.attrs.count ?? '1');
  if (!contact || !message || !(count <= MAX_RESENDS)) return;
  const keys = retryKeys(receipt);
  const { type, ciphertext } = await contact.device0.encrypt(
    address(target, device.id),
    message,
    () => keys ?? sim.world.linkedDeviceBundle(device),
    keys !== undefined,
  );
  sim.deliver(device, {
    ...pending,
    attrs: { ...pending.attrs, t: unixTime() },
    content: [{ tag: 'enc', attrs: { v: '2', type, count: String(count) }, content: ciphertext }],
  });
};

/** The device's keys a retry receipt carries (`<registration>` and `<keys>`), as a pre-key bundle. */
const retryKeys = (receipt: BinaryNode): PreKeyBundle | undefined => {
  const keys = child(receipt, 'keys');
  const registrationId = uintBE(childBytes(receipt, 'registration'));
  const identityKey = childBytes(keys, 'identity');
  const key = child(keys, 'key');
  const skey = child(keys, 'skey');
  const skeyId = uintBE(childBytes(skey, 'id'));
  const skeyValue = childBytes(skey, 'value');
  const signature = childBytes(skey, 'signature');
  if (registrationId === undefined || !identityKey || skeyId === undefined || !skeyValue || !signature) {
    return undefined;
  }
  const keyId = uintBE(childBytes(key, 'id'));
  const keyValue = childBytes(key, 'value');
  return {
    registrationId,
    identityKey,
    signedPreKey: { keyId: skeyId, publicKey: skeyValue, signature },
    preKey: keyId !== undefined && keyValue ? { keyId, publicKey: keyValue } : undefined,
  };
};

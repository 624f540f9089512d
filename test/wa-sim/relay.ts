import { deflateSync } from 'node:zlib';
import { type BinaryNode, jidDecode, proto } from '@whiskeysockets/baileys';
import type { SimConnection } from './connection.js';
import { address, receiveFromDevice, resendOnRetry } from './contact.js';
import { sealRetryAnswer } from './media.js';
import { bytes, child, children, unixTime } from './nodes.js';
import { newMessageId, type Simulator } from './simulator.js';
import { type Account, type LinkedDevice, pendingKey } from './world.js';

/**
 * A message from a linked device: acked at once, then each `<to>` participant's `enc` goes to its
 * device: a phone decrypts it (and a contact's phone answers with a delivery receipt); a linked device
 * gets it relayed, now or when it next logs in.
 */
export const handleMessage = async (
  sim: Simulator,
  conn: SimConnection,
  sender: Account,
  senderDevice: LinkedDevice,
  node: BinaryNode,
) => {
  const id = node.attrs.id ?? '';
  const chat = node.attrs.to ?? '';
  conn.send({ tag: 'ack', attrs: { class: 'message', id, from: chat, t: unixTime() } });
  const targets: [string, BinaryNode][] = [];
  const participants = child(node, 'participants');
  if (participants) {
    for (const to of children(participants)) {
      const enc = child(to, 'enc');
      if (to.attrs.jid && enc) targets.push([to.attrs.jid, enc]);
    }
  } else {
    const enc = child(node, 'enc'); // peer messages to the own phone carry one enc directly
    if (enc) targets.push([chat, enc]);
  }
  for (const [jid, enc] of targets) {
    const decoded = jidDecode(jid);
    if (!decoded) continue;
    const owner = sim.world.find(decoded.user, decoded.server === 'lid' ? 'lid' : 's.whatsapp.net');
    const ciphertext = bytes(enc);
    if (!owner || !ciphertext) continue;
    const deviceId = decoded.device ?? 0;
    if (deviceId === 0) {
      const read = async () => {
        const message = await owner.device0
          .decrypt(address(sender, senderDevice.id), enc.attrs.type ?? '', ciphertext)
          .catch(() => undefined);
        // The sender's own phone gets a copy (deviceSentMessage); only a contact's phone keeps an inbox
        // and answers with receipts.
        if (owner === sender) return;
        const from = { account: sender, device: senderDevice };
        receiveFromDevice(sim, owner, from, id, enc.attrs.type ?? '', message, chat);
      };
      if (owner === sender || !sim.holdWhileAway(owner.phone, read)) await read();
      continue;
    }
    const device = owner.devices.get(deviceId);
    if (!device) continue;
    const own = owner === sender;
    sim.deliver(device, {
      tag: 'message',
      attrs: {
        id,
        from: `${sender.phone}:${senderDevice.id}@s.whatsapp.net`,
        t: unixTime(),
        type: node.attrs.type ?? 'text',
        ...(own ? { recipient: chat } : { notify: sender.name, sender_lid: `${sender.lid}@lid` }),
      },
      content: [enc],
    });
  }
};

/**
 * A companion's receipt for a stanza we delivered: acked, the stanza stops being pending, and the phone
 * that sent it learns that the companion holds their Signal session. A retry receipt asks for the
 * message again instead.
 */
export const handleReceipt = (
  sim: Simulator,
  conn: SimConnection,
  owner: Account,
  device: LinkedDevice,
  node: BinaryNode,
) => {
  const ids = [node.attrs.id ?? '', ...children(child(node, 'list')).map((i) => i.attrs.id ?? '')];
  if (node.attrs.type === 'server-error') {
    // Not about delivery: the device found a file gone from the media servers (see answerMediaRetry).
    answerMediaRetry(sim, conn, node);
  } else if (node.attrs.type === 'retry') {
    sim.noteRetry(device, node.attrs.id ?? '');
    void resendOnRetry(sim, owner, device, node).catch(() => undefined);
  } else {
    // The device's user read what a contact sent: the contact's phone shows it read (blue ticks).
    if (node.attrs.type === 'read') markRead(sim, owner, node.attrs.to, ids);
    for (const id of ids) {
      const key = pendingKey('message', id);
      const from = jidDecode(device.pending.get(key)?.attrs.from);
      if (from && !from.device) {
        const phone = sim.world.find(from.user, from.server === 'lid' ? 'lid' : 's.whatsapp.net');
        phone?.device0.confirmSession(address(owner, device.id));
      }
      if (device.pending.delete(key)) sim.world.changed();
    }
  }
  conn.send({
    tag: 'ack',
    attrs: {
      id: node.attrs.id ?? '',
      class: 'receipt',
      from: node.attrs.to ?? '',
      ...(node.attrs.type ? { type: node.attrs.type } : {}),
    },
  });
};

/**
 * A device asks the phone that sent a file to upload it again (`<receipt type="server-error">` naming the
 * message in `<rmr>`), as WhatsApp's phones do once the media servers dropped it. The phone uploads the
 * file it kept and answers with a `mediaretry` notification: the new direct path, sealed with a key from
 * the file's media key; or an error when it no longer has the file.
 */
const answerMediaRetry = (sim: Simulator, conn: SimConnection, node: BinaryNode) => {
  const id = node.attrs.id ?? '';
  const rmr = child(node, 'rmr');
  const sender = jidDecode(rmr?.attrs.jid);
  const phone =
    sender?.user && sim.world.find(sender.user, sender.server === 'lid' ? 'lid' : 's.whatsapp.net');
  const message = phone ? sim.sentMessage(phone.phone, id) : undefined;
  const media =
    message?.imageMessage ??
    message?.videoMessage ??
    message?.audioMessage ??
    message?.documentMessage ??
    message?.documentWithCaptionMessage?.message?.documentMessage ??
    message?.stickerMessage;
  const file = phone ? sim.sentFile(phone.phone, id) : undefined;
  const answer = (content: BinaryNode[]) =>
    conn.send({
      tag: 'notification',
      attrs: { id, type: 'mediaretry', from: 's.whatsapp.net', t: unixTime() },
      content: [...content, ...(rmr ? [rmr] : [])],
    });
  if (!media?.mediaKey || !file) {
    return answer([
      { tag: 'error', attrs: { code: String(proto.MediaRetryNotification.ResultType.NOT_FOUND) } },
    ]);
  }
  const directPath = sim.media.put(file);
  const plain = proto.MediaRetryNotification.encode({
    stanzaId: id,
    directPath,
    result: proto.MediaRetryNotification.ResultType.SUCCESS,
  }).finish();
  const { ciphertext, iv } = sealRetryAnswer(plain, media.mediaKey, id);
  answer([
    {
      tag: 'encrypt',
      attrs: {},
      content: [
        { tag: 'enc_p', attrs: {}, content: ciphertext },
        { tag: 'enc_iv', attrs: {}, content: iv },
      ],
    },
  ]);
};

/** Marks the messages `ids` that the contact `to` sent to `reader` as read. */
const markRead = (sim: Simulator, reader: Account, to: string | undefined, ids: string[]) => {
  const jid = jidDecode(to);
  const contact = jid?.user && sim.world.find(jid.user, jid.server === 'lid' ? 'lid' : 's.whatsapp.net');
  if (!contact) return;
  for (const sent of contact.sent) {
    if (sent.to === reader.phone && ids.includes(sent.id) && !sent.read) {
      sent.read = true;
      sim.world.changed();
    }
  }
};

/**
 * A companion's ack: for a receipt we delivered, the receipt stops being pending. A message the device
 * took is answered with a receipt; one it could not use is acked, with an error (a nack: "Key used
 * already" for a copy it had decrypted before a crash, say). WhatsApp then stops delivering it, unless
 * the device asked for it again with a retry receipt: the phone's new copy takes its place.
 */
export const handleAck = (sim: Simulator, device: LinkedDevice, node: BinaryNode) => {
  const id = node.attrs.id ?? '';
  if (node.attrs.class === 'message') {
    if (node.attrs.error) sim.noteNack(id, node.attrs.error);
    if (sim.resendAsked(device, id)) return;
    if (device.pending.delete(pendingKey('message', id))) sim.world.changed();
    return;
  }
  if (node.attrs.class !== 'receipt') return;
  if (device.pending.delete(pendingKey('receipt', node.attrs.id, node.attrs.type))) sim.world.changed();
};

/**
 * What a phone sends a freshly linked device, as WhatsApp's phones do: the history sync notification
 * (here an empty inline bootstrap), which lets Baileys leave its initial-sync wait at once.
 */
export const sendHistorySync = async (sim: Simulator, account: Account, device: LinkedDevice) => {
  const payload = deflateSync(
    proto.HistorySync.encode({
      syncType: proto.HistorySync.HistorySyncType.INITIAL_BOOTSTRAP,
      progress: 100,
    }).finish(),
  );
  const message: proto.IMessage = {
    protocolMessage: {
      type: proto.Message.ProtocolMessage.Type.HISTORY_SYNC_NOTIFICATION,
      historySyncNotification: {
        syncType: proto.Message.HistorySyncType.INITIAL_BOOTSTRAP,
        initialHistBootstrapInlinePayload: payload,
        chunkOrder: 0,
        progress: 100,
      },
    },
  };
  const { type, ciphertext } = await account.device0.encrypt(address(account, device.id), message, () =>
    sim.world.linkedDeviceBundle(device),
  );
  sim.deliver(device, {
    tag: 'message',
    attrs: {
      id: newMessageId(),
      from: `${account.phone}@s.whatsapp.net`,
      t: unixTime(),
      type: 'text',
      category: 'peer',
    },
    content: [{ tag: 'enc', attrs: { v: '2', type }, content: ciphertext }],
  });
};

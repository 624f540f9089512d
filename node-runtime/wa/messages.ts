// Baileys' messages and receipts as the message store keeps them: one-to-one chats only (groups,
// broadcasts and newsletters are later work), the phone-number JID whenever the LID mapping is known,
// with the LID beside it.
import {
  getContentType,
  isLidUser,
  isPnUser,
  jidNormalizedUser,
  normalizeMessageContent,
  proto,
  type WAMessage,
  type WASocket,
} from '@whiskeysockets/baileys';
import type { MessageStatus } from '../../shared/events.js';
import type { StoredMessage } from '../events/store.js';

/** Content types that are not messages a person wrote (keys, protocol housekeeping). */
const NOT_A_MESSAGE = new Set([
  'protocolMessage',
  'senderKeyDistributionMessage',
  'messageContextInfo',
  'reactionMessage',
  'pollUpdateMessage',
  'keepInChatMessage',
]);

/** Baileys' receipt statuses, as the store's. */
export const STATUS_OF: Partial<Record<number, MessageStatus>> = {
  [proto.WebMessageInfo.Status.DELIVERY_ACK]: 'delivered',
  [proto.WebMessageInfo.Status.READ]: 'read',
  [proto.WebMessageInfo.Status.PLAYED]: 'played',
  [proto.WebMessageInfo.Status.ERROR]: 'failed',
};

/** A JID pair for a one-to-one party: the phone-number JID if known (else the LID), and the LID. */
type Party = { jid: string; lid: string | null };

/** Resolves a party from the JIDs a stanza names, asking the session's LID store when needed. */
export async function partyOf(sock: WASocket, jid: string, alt: string | null | undefined): Promise<Party> {
  const main = jidNormalizedUser(jid);
  const other = alt ? jidNormalizedUser(alt) : null;
  if (isPnUser(main)) return { jid: main, lid: other && isLidUser(other) ? other : null };
  if (!isLidUser(main)) return { jid: main, lid: null };
  const pn =
    other && isPnUser(other)
      ? other
      : await sock.signalRepository.lidMapping.getPNForLID(main).then(
          (found) => (found ? jidNormalizedUser(found) : null),
          () => null,
        );
  return { jid: pn ?? main, lid: main };
}

const seconds = (t: WAMessage['messageTimestamp']) =>
  typeof t === 'number' ? t : t && typeof t === 'object' && 'toNumber' in t ? t.toNumber() : Number(t ?? 0);

/** What a message says, for the store: kind, text, and the message it quotes. */
export function contentOf(message: proto.IMessage | null | undefined) {
  const content = normalizeMessageContent(message);
  const type = getContentType(content ?? undefined);
  if (!content || !type || NOT_A_MESSAGE.has(type)) return undefined;
  const extended = content.extendedTextMessage;
  const text = content.conversation ?? extended?.text ?? null;
  const context = extended?.contextInfo;
  const quotedMessage = normalizeMessageContent(context?.quotedMessage ?? undefined);
  return {
    kind: text !== null ? ('text' as const) : ('unknown' as const),
    text,
    quoted: context?.stanzaId
      ? {
          id: context.stanzaId,
          from: context.participant ? jidNormalizedUser(context.participant) : null,
          text: quotedMessage?.conversation ?? quotedMessage?.extendedTextMessage?.text ?? null,
        }
      : null,
  };
}

/**
 * A message from `messages.upsert` as the store keeps it, or undefined for what is not a one-to-one
 * message a person wrote. Our own messages (sent from the account's phone) come back as outbound.
 */
export async function storedMessageOf(sock: WASocket, msg: WAMessage): Promise<StoredMessage | undefined> {
  const { key } = msg;
  if (!key.id || !key.remoteJid) return undefined;
  if (!isPnUser(key.remoteJid) && !isLidUser(key.remoteJid)) return undefined;
  const content = contentOf(msg.message);
  if (!content) return undefined;
  const chat = await partyOf(sock, key.remoteJid, key.remoteJidAlt);
  const me = sock.user;
  const sender = key.fromMe
    ? { jid: me?.id ? jidNormalizedUser(me.id) : null, lid: me?.lid ? jidNormalizedUser(me.lid) : null }
    : chat;
  return {
    id: key.id,
    direction: key.fromMe ? 'out' : 'in',
    chatJid: chat.jid,
    chatLid: chat.lid,
    senderJid: sender.jid,
    senderLid: sender.lid,
    ...content,
    sentAt: new Date(seconds(msg.messageTimestamp) * 1000 || Date.now()),
    status: key.fromMe ? 'sent' : null,
    source: key.fromMe ? 'phone' : null,
  };
}

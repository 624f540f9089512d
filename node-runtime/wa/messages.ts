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
import type { MediaDownload, StoredContent } from '../../shared/message-view.js';
import type { MessageChange } from '../events/journal.js';
import type { StoredMessage } from '../events/store.js';

/** Content types that are not messages a person wrote (keys, protocol housekeeping). */
const NOT_A_MESSAGE = new Set([
  'protocolMessage',
  'senderKeyDistributionMessage',
  'messageContextInfo',
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

/** Each kind of file and the field of `proto.Message` that carries it. */
export const MEDIA_FIELDS = [
  ['imageMessage', 'image'],
  ['videoMessage', 'video'],
  ['audioMessage', 'audio'],
  ['documentMessage', 'document'],
  ['stickerMessage', 'sticker'],
] as const;

type MediaContent =
  | proto.Message.IImageMessage
  | proto.Message.IVideoMessage
  | proto.Message.IAudioMessage
  | proto.Message.IDocumentMessage
  | proto.Message.IStickerMessage;

const b64 = (bytes: Uint8Array | null | undefined) =>
  bytes ? Buffer.from(bytes).toString('base64') : undefined;
const count = (n: number | Long | null | undefined) =>
  n === null || n === undefined ? null : typeof n === 'number' ? n : n.toNumber();

/** What downloading a message's file takes, when it carries one with its keys. */
const downloadOf = (kind: MediaDownload['type'], media: MediaContent): MediaDownload | undefined =>
  media.directPath && media.mediaKey
    ? {
        type: kind,
        directPath: media.directPath,
        ...(media.url ? { url: media.url } : {}),
        mediaKey: b64(media.mediaKey) ?? '',
        ...(media.fileSha256 ? { fileSha256: b64(media.fileSha256) } : {}),
        ...(media.fileEncSha256 ? { fileEncSha256: b64(media.fileEncSha256) } : {}),
      }
    : undefined;

/** The file a message we sent carries (Baileys filled in its keys and path as it uploaded it). */
export function sentFileOf(message: proto.IMessage | null | undefined): MediaDownload | undefined {
  const content = normalizeMessageContent(message);
  for (const [field, kind] of MEDIA_FIELDS) {
    const media = content?.[field] as MediaContent | null | undefined;
    if (media) return downloadOf(kind, media);
  }
  return undefined;
}

/** The context (reply, mentions) a message of any kind carries. */
const contextOf = (content: proto.IMessage): proto.IContextInfo | null | undefined => {
  for (const value of Object.values(content)) {
    if (value && typeof value === 'object' && 'contextInfo' in value) {
      return (value as { contextInfo?: proto.IContextInfo | null }).contextInfo;
    }
  }
  return undefined;
};

/**
 * What a message says, for the store: its kind, text (or a file's caption, or a reaction's emoji), the
 * message it quotes, and the kind's own part of `messages.content` (shared/message-view.ts): a file's
 * description and what it takes to download it later, a location, a contact card, a reaction.
 */
export function contentOf(message: proto.IMessage | null | undefined) {
  const content = normalizeMessageContent(message);
  const type = getContentType(content ?? undefined);
  if (!content || !type || NOT_A_MESSAGE.has(type)) return undefined;
  const context = contextOf(content);
  const quotedMessage = normalizeMessageContent(context?.quotedMessage ?? undefined);
  const quoted = context?.stanzaId
    ? {
        id: context.stanzaId,
        from: context.participant ? jidNormalizedUser(context.participant) : null,
        text:
          quotedMessage?.conversation ??
          quotedMessage?.extendedTextMessage?.text ??
          quotedMessage?.imageMessage?.caption ??
          null,
      }
    : null;
  const stored: StoredContent & { download?: MediaDownload } = {};
  if (context?.mentionedJid?.length) stored.mentions = context.mentionedJid.map(jidNormalizedUser);
  const text = content.conversation ?? content.extendedTextMessage?.text ?? null;
  if (text !== null) return { kind: 'text' as const, text, quoted, content: stored };
  for (const [field, kind] of MEDIA_FIELDS) {
    const media = content[field] as MediaContent | null | undefined;
    if (!media) continue;
    stored.media = {
      mimetype: media.mimetype ?? 'application/octet-stream',
      size: count(media.fileLength),
      ...('fileName' in media && media.fileName ? { fileName: media.fileName } : {}),
      ...('ptt' in media && media.ptt ? { ptt: true } : {}),
    };
    const download = downloadOf(kind, media);
    if (download) stored.download = download;
    const caption = 'caption' in media ? (media.caption ?? null) : null;
    return { kind, text: caption, quoted, content: stored };
  }
  if (content.locationMessage || content.liveLocationMessage) {
    const l = content.locationMessage ?? content.liveLocationMessage ?? {};
    const named = 'name' in l ? l : {};
    stored.location = {
      latitude: l.degreesLatitude ?? 0,
      longitude: l.degreesLongitude ?? 0,
      ...(named.name ? { name: named.name } : {}),
      ...(named.address ? { address: named.address } : {}),
    };
    return { kind: 'location' as const, text: null, quoted, content: stored };
  }
  const card = content.contactMessage ?? content.contactsArrayMessage?.contacts?.[0];
  if (card) {
    stored.contact = { displayName: card.displayName ?? '', vcard: card.vcard ?? '' };
    return { kind: 'contact' as const, text: null, quoted, content: stored };
  }
  if (content.reactionMessage) {
    const emoji = content.reactionMessage.text ?? '';
    stored.reaction = { messageId: content.reactionMessage.key?.id ?? '', emoji };
    return { kind: 'reaction' as const, text: emoji || null, quoted: null, content: stored };
  }
  return { kind: 'unknown' as const, text: null, quoted, content: stored };
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

/**
 * An edit or a deletion for everyone (a `protocolMessage` naming another message of the chat), as the
 * journal applies it; undefined for anything else.
 */
export async function changeOf(sock: WASocket, msg: WAMessage): Promise<MessageChange | undefined> {
  const protocol = normalizeMessageContent(msg.message)?.protocolMessage;
  const { key } = msg;
  const target = protocol?.key?.id;
  if (!protocol || !target || !key.remoteJid) return undefined;
  if (!isPnUser(key.remoteJid) && !isLidUser(key.remoteJid)) return undefined;
  const { Type } = proto.Message.ProtocolMessage;
  if (protocol.type !== Type.REVOKE && protocol.type !== Type.MESSAGE_EDIT) return undefined;
  const chat = await partyOf(sock, key.remoteJid, key.remoteJidAlt);
  const direction = key.fromMe ? 'out' : 'in';
  const at = new Date(seconds(msg.messageTimestamp) * 1000 || Date.now());
  if (protocol.type === Type.REVOKE) return { kind: 'delete', id: target, chat, direction, at };
  const edited = normalizeMessageContent(protocol.editedMessage ?? undefined);
  const text =
    edited?.conversation ??
    edited?.extendedTextMessage?.text ??
    edited?.imageMessage?.caption ??
    edited?.videoMessage?.caption ??
    edited?.documentMessage?.caption ??
    null;
  return { kind: 'edit', id: target, chat, direction, text, at };
}

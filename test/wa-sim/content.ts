import { createHash } from 'node:crypto';
import { proto } from '@whiskeysockets/baileys';
import { decryptMedia, encryptMedia, MediaCheckError, type MediaKind, type MediaStore } from './media.js';

/**
 * What a contact's phone shows of a message beyond its text: its kind and, for a file, what it
 * downloaded, decrypted and checked. A plain text has none (its inbox entry keeps the seed's shape).
 */
export type ReceivedDetails = {
  type: string;
  mimetype?: string;
  /** Bytes of the decrypted file. */
  size?: number;
  caption?: string;
  fileName?: string;
  /** Hex SHA-256 of the decrypted file, which matched the message's `fileSha256`. */
  sha256?: string;
  ptt?: boolean;
  /** Why the file could not be had (not on the media server, or a check failed). */
  mediaError?: string;
  location?: { latitude: number; longitude: number; name?: string; address?: string };
  contact?: { displayName?: string; vcard: string };
  reaction?: { id: string; emoji: string };
  /** The id of the message this one replies to. */
  quoted?: string;
  mentions?: string[];
};

type MediaMessage =
  | proto.Message.IImageMessage
  | proto.Message.IVideoMessage
  | proto.Message.IAudioMessage
  | proto.Message.IDocumentMessage
  | proto.Message.IStickerMessage;

const MEDIA_FIELDS: [keyof proto.IMessage, MediaKind][] = [
  ['imageMessage', 'image'],
  ['videoMessage', 'video'],
  ['audioMessage', 'audio'],
  ['documentMessage', 'document'],
  ['stickerMessage', 'sticker'],
];

const defined = <T extends object>(o: T): T =>
  Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined && v !== null && v !== '')) as T;

/** A file message as the recipient's app takes it: downloaded by its direct path, checked, decrypted. */
const downloaded = (media: MediaStore, kind: MediaKind, m: MediaMessage): ReceivedDetails => {
  const base: ReceivedDetails = defined({
    type: kind,
    mimetype: m.mimetype ?? undefined,
    caption: 'caption' in m ? (m.caption ?? undefined) : undefined,
    fileName: 'fileName' in m ? (m.fileName ?? undefined) : undefined,
    ptt: 'ptt' in m && m.ptt ? true : undefined,
  });
  const file = m.directPath ? media.get(m.directPath) : undefined;
  if (!m.mediaKey) return { ...base, mediaError: 'no media key' };
  if (!file) return { ...base, mediaError: 'not on the media server' };
  try {
    const plain = decryptMedia(file, kind, {
      mediaKey: m.mediaKey,
      fileEncSha256: m.fileEncSha256,
      fileSha256: m.fileSha256,
      fileLength: m.fileLength === undefined || m.fileLength === null ? undefined : Number(m.fileLength),
    });
    return { ...base, size: plain.length, sha256: createHash('sha256').update(plain).digest('hex') };
  } catch (err) {
    if (err instanceof MediaCheckError) return { ...base, mediaError: err.message };
    throw err;
  }
};

/** What the message is, for a contact's inbox; undefined for a plain text that quotes nothing. */
export const describeContent = (media: MediaStore, message: proto.IMessage): ReceivedDetails | undefined => {
  // A document with a caption travels wrapped, as WhatsApp clients send it.
  const m = message.documentWithCaptionMessage?.message ?? message;
  const context = contextOf(m);
  const reply = defined({
    quoted: context?.stanzaId ?? undefined,
    mentions: context?.mentionedJid?.length ? context.mentionedJid : undefined,
  });
  for (const [field, kind] of MEDIA_FIELDS) {
    const content = m[field] as MediaMessage | null | undefined;
    if (content) return { ...downloaded(media, kind, content), ...reply };
  }
  if (m.locationMessage) {
    const l = m.locationMessage;
    return {
      type: 'location',
      location: defined({
        latitude: l.degreesLatitude ?? 0,
        longitude: l.degreesLongitude ?? 0,
        name: l.name ?? undefined,
        address: l.address ?? undefined,
      }),
      ...reply,
    };
  }
  if (m.contactMessage) {
    const c = m.contactMessage;
    return {
      type: 'contact',
      contact: defined({ displayName: c.displayName ?? undefined, vcard: c.vcard ?? '' }),
      ...reply,
    };
  }
  if (m.reactionMessage) {
    return {
      type: 'reaction',
      reaction: { id: m.reactionMessage.key?.id ?? '', emoji: m.reactionMessage.text ?? '' },
    };
  }
  return Object.keys(reply).length ? { type: 'text', ...reply } : undefined;
};

const contextOf = (m: proto.IMessage): proto.IContextInfo | null | undefined =>
  m.extendedTextMessage?.contextInfo ??
  m.imageMessage?.contextInfo ??
  m.videoMessage?.contextInfo ??
  m.audioMessage?.contextInfo ??
  m.documentMessage?.contextInfo ??
  m.stickerMessage?.contextInfo ??
  m.locationMessage?.contextInfo ??
  m.contactMessage?.contextInfo;

/** What a contact's phone can send (`kind` of `POST /sim/contacts/:phone/messages`). */
export type ContactContent =
  | { kind: 'text'; text: string }
  | { kind: MediaKind; data: Buffer; mimetype: string; fileName?: string; caption?: string; ptt?: boolean }
  | { kind: 'location'; latitude: number; longitude: number; name?: string; address?: string }
  | { kind: 'contact'; displayName: string; vcard: string }
  | { kind: 'reaction'; key: proto.IMessageKey; emoji: string }
  | { kind: 'edit'; key: proto.IMessageKey; text: string }
  | { kind: 'delete'; key: proto.IMessageKey };

/**
 * The message a contact's phone sends for `content`: a file is encrypted and uploaded to the media
 * servers first, as the app does, and the message carries its keys, hashes and direct path. `context`
 * (a quoted message) goes on every kind that has one.
 */
export const buildContent = (
  media: MediaStore,
  mediaHost: string | undefined,
  content: ContactContent,
  context?: proto.IContextInfo,
  /** Told the encrypted file of a file message: the phone keeps it, to upload it again when asked. */
  keepFile: (file: Buffer) => void = () => {},
): proto.IMessage => {
  switch (content.kind) {
    case 'text':
      return context
        ? { extendedTextMessage: { text: content.text, contextInfo: context } }
        : { conversation: content.text };
    case 'location':
      return {
        locationMessage: {
          degreesLatitude: content.latitude,
          degreesLongitude: content.longitude,
          name: content.name,
          address: content.address,
          contextInfo: context,
        },
      };
    case 'contact':
      return {
        contactMessage: { displayName: content.displayName, vcard: content.vcard, contextInfo: context },
      };
    case 'reaction':
      return { reactionMessage: { key: content.key, text: content.emoji, senderTimestampMs: Date.now() } };
    case 'edit':
      return {
        protocolMessage: {
          key: content.key,
          type: proto.Message.ProtocolMessage.Type.MESSAGE_EDIT,
          editedMessage: { conversation: content.text },
          timestampMs: Date.now(),
        },
      };
    case 'delete':
      return { protocolMessage: { key: content.key, type: proto.Message.ProtocolMessage.Type.REVOKE } };
    default: {
      const { mediaKey, file, fileSha256, fileEncSha256, fileLength } = encryptMedia(
        content.data,
        content.kind,
      );
      const directPath = media.put(file);
      keepFile(file);
      const common = {
        url: mediaHost ? `https://${mediaHost}${directPath}` : undefined,
        directPath,
        mediaKey,
        fileSha256,
        fileEncSha256,
        fileLength,
        mimetype: content.mimetype,
        mediaKeyTimestamp: Math.floor(Date.now() / 1000),
        contextInfo: context,
      };
      switch (content.kind) {
        case 'image':
          return { imageMessage: { ...common, caption: content.caption } };
        case 'video':
          return { videoMessage: { ...common, caption: content.caption } };
        case 'audio':
          return { audioMessage: { ...common, ptt: content.ptt ?? false } };
        case 'sticker':
          return { stickerMessage: common };
        case 'document': {
          const document = { ...common, fileName: content.fileName, caption: content.caption };
          return content.caption
            ? { documentWithCaptionMessage: { message: { documentMessage: document } } }
            : { documentMessage: document };
        }
      }
    }
  }
};

const isBase64 = (s: string) => /^[A-Za-z0-9+/]*={0,2}$/.test(s) && s.length % 4 === 0;
const optionalString = (v: unknown) => v === undefined || typeof v === 'string';

/**
 * Reads what a contact is asked to send from a control-API body (all but a reaction's target, which
 * the simulator looks up in the chat): the content, or what is wrong with the body.
 */
export const readContactContent = (
  body: Record<string, unknown>,
):
  | Exclude<ContactContent, { kind: 'reaction' | 'edit' | 'delete' }>
  | { kind: 'reaction'; id: string; emoji: string }
  | { kind: 'edit'; id: string; text: string }
  | { kind: 'delete'; id: string }
  | string => {
  const kind = body.kind ?? 'text';
  if (kind === 'text') {
    return typeof body.text === 'string' && body.text.length > 0
      ? { kind, text: body.text }
      : '`text` must be a non-empty string';
  }
  if (kind === 'image' || kind === 'video' || kind === 'audio' || kind === 'document' || kind === 'sticker') {
    const { data, mimetype, fileName, caption, ptt } = body;
    if (typeof data !== 'string' || data.length === 0 || !isBase64(data))
      return '`data` must be the file in base64';
    if (typeof mimetype !== 'string' || !/^[\w.+-]+\/[\w.+-]+/.test(mimetype))
      return '`mimetype` must be a MIME type';
    if (!optionalString(fileName) || !optionalString(caption))
      return '`fileName` and `caption` must be strings';
    if (ptt !== undefined && typeof ptt !== 'boolean') return '`ptt` must be a boolean';
    return {
      kind,
      data: Buffer.from(data, 'base64'),
      mimetype,
      fileName: fileName as string | undefined,
      caption: caption as string | undefined,
      ptt: ptt as boolean | undefined,
    };
  }
  if (kind === 'location') {
    const l = body.location as Record<string, unknown> | undefined;
    const { latitude, longitude, name, address } = l ?? {};
    if (
      typeof latitude !== 'number' ||
      typeof longitude !== 'number' ||
      !optionalString(name) ||
      !optionalString(address)
    ) {
      return '`location` must be {latitude, longitude, name?, address?}';
    }
    return {
      kind,
      latitude,
      longitude,
      name: name as string | undefined,
      address: address as string | undefined,
    };
  }
  if (kind === 'contact') {
    const c = body.contact as Record<string, unknown> | undefined;
    if (typeof c?.displayName !== 'string' || typeof c.vcard !== 'string')
      return '`contact` must be {displayName, vcard}';
    return { kind, displayName: c.displayName, vcard: c.vcard };
  }
  if (kind === 'reaction') {
    const r = body.reaction as Record<string, unknown> | undefined;
    if (typeof r?.id !== 'string' || r.id.length === 0 || typeof r.emoji !== 'string') {
      return '`reaction` must be {id, emoji} (an empty emoji removes it)';
    }
    return { kind, id: r.id, emoji: r.emoji };
  }
  if (kind === 'edit') {
    const e = body.edit as Record<string, unknown> | undefined;
    if (typeof e?.id !== 'string' || e.id.length === 0 || typeof e.text !== 'string' || e.text.length === 0) {
      return '`edit` must be {id, text}: one of its own messages and the new text';
    }
    return { kind, id: e.id, text: e.text };
  }
  if (kind === 'delete') {
    const d = body.delete as Record<string, unknown> | undefined;
    if (typeof d?.id !== 'string' || d.id.length === 0)
      return '`delete` must be {id}: one of its own messages';
    return { kind, id: d.id };
  }
  return '`kind` must be text, image, video, audio, document, sticker, location, contact, reaction, edit or delete';
};

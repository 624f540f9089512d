// A stored message row as the API shows it. Pure, so the edge (GET /api/messages) and the hosts (the
// `message.*` events) show the same thing; node-runtime/events/store.ts `messageJson` builds the same in
// SQL, and a test holds the two together.
import type { MessageRow } from './db-schema.js';
import type { Message, MessageStatus } from './events.js';

/**
 * What `messages.content` holds that the API shows: the quoted message, and for each kind its own part.
 * Besides these it keeps what only the gateway uses (a queued file's `media.id`, a reaction's key,
 * a reply's target, an inbound file's download keys), never shown.
 */
export type StoredContent = {
  quoted?: Message['quoted'];
  media?: { mimetype: string; size?: number | null; fileName?: string; ptt?: boolean; id?: string };
  location?: Message['location'];
  contact?: Message['contact'];
  reaction?: { messageId: string; emoji: string; fromMe?: boolean; chat?: string };
  mentions?: string[];
  editedAt?: string;
  deletedAt?: string;
  /** An inbound file: where WhatsApp keeps it and its keys (GET /api/messages/{id}/media). */
  download?: MediaDownload;
};

/** What downloading and checking a received file takes; Buffers in base64. */
export type MediaDownload = {
  type: 'image' | 'video' | 'audio' | 'document' | 'sticker';
  directPath: string;
  url?: string;
  mediaKey: string;
  fileSha256?: string;
  fileEncSha256?: string;
};

/** The kind-specific fields of the view: only those the message has. */
export function contentView(content: StoredContent | null): Partial<Message> {
  if (!content) return {};
  const { media, location, contact, reaction, mentions, editedAt, deletedAt } = content;
  return {
    ...(media
      ? {
          media: {
            mimetype: media.mimetype,
            size: media.size ?? null,
            ...(media.fileName !== undefined ? { fileName: media.fileName } : {}),
            ...(media.ptt !== undefined ? { ptt: media.ptt } : {}),
          },
        }
      : {}),
    ...(location ? { location } : {}),
    ...(contact ? { contact } : {}),
    ...(reaction ? { reaction: { messageId: reaction.messageId, emoji: reaction.emoji } } : {}),
    ...(mentions?.length ? { mentions } : {}),
    ...(editedAt ? { editedAt } : {}),
    ...(deletedAt ? { deletedAt } : {}),
  };
}

/** A stored row as the API shows it; `sessionName` is the seed's `sessionId`. */
export function messageView(row: MessageRow, sessionName: string): Message {
  const content = row.content as StoredContent | null;
  return {
    id: row.id,
    sessionId: sessionName,
    direction: row.direction,
    chat: row.chat_jid,
    chatLid: row.chat_lid,
    from: row.sender_jid,
    fromLid: row.sender_lid,
    kind: row.kind as Message['kind'],
    text: row.text,
    quoted: content?.quoted ?? null,
    ...contentView(content),
    timestamp: row.sent_at.toISOString(),
    status: row.status as MessageStatus | null,
    statusAt: row.status_at?.toISOString() ?? null,
    failure: row.failure,
    source: row.source,
  };
}

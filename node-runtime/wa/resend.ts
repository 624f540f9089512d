// A message we sent, as Baileys needs it again when a recipient's phone could not decrypt it and asks for
// it (a retry receipt): Baileys' `getMessage`. It is rebuilt from the store, so the retry is answered by
// whichever host runs the session now, after a restart or a takeover, and not only by the process that
// sent it. Without it, Baileys cannot send the message again and the recipient never gets it.
import { generateWAMessageContent, generateWAMessageFromContent, type proto } from '@whiskeysockets/baileys';
import { type Kysely, sql } from 'kysely';
import type { Database } from '../../shared/db-schema.js';
import type { OutgoingContent } from '../../shared/message-content.js';
import type { MediaDownload } from '../../shared/message-view.js';
import { MEDIA_FIELDS } from './messages.js';
import { baileysMessage, quotedMessage } from './outgoing.js';

/** What the store keeps of a message we sent: what was queued, and the file's keys once it went up. */
export type SentRow = {
  kind: string;
  text: string | null;
  chat_jid: string;
  content: OutgoingContent & { download?: MediaDownload; deletedAt?: string };
};

/**
 * The message `id` this session sent, unless it never left (failed, cancelled) or was deleted for
 * everyone since: a retry must not bring back what the sender took away.
 */
export async function sentRowOf(
  db: Kysely<Database>,
  sessionId: string,
  id: string,
): Promise<SentRow | undefined> {
  const row = await db
    .selectFrom('messages')
    .select(['kind', 'text', 'chat_jid', sql<SentRow['content']>`content`.as('content')])
    .where('session_id', '=', sessionId)
    .where('id', '=', id)
    .where('direction', '=', 'out')
    .where((eb) => eb.or([eb('status', 'is', null), eb('status', 'not in', ['failed', 'cancelled'])]))
    .executeTakeFirst();
  return row && !row.content.deletedAt ? row : undefined;
}

const bytes = (base64: string | undefined) => (base64 ? Buffer.from(base64, 'base64') : undefined);

/**
 * The message as Baileys built it when it was sent, for `userJid` (the account): a file is not uploaded
 * again but named by the keys and path of its first upload (its preview thumbnail, never stored, is left
 * out). Undefined for a file whose upload the store never saw.
 */
export async function resentMessage(
  row: SentRow,
  id: string,
  userJid: string,
): Promise<proto.IMessage | undefined> {
  const { kind, text, content } = row;
  const mediaField = MEDIA_FIELDS.find(([, type]) => type === kind)?.[0];
  let message: proto.IMessage;
  let quoted: Parameters<typeof generateWAMessageFromContent>[2]['quoted'];
  if (mediaField) {
    const { media, download } = content;
    if (!media || !download) return undefined;
    const mentions = content.mentions?.length ? { contextInfo: { mentionedJid: content.mentions } } : {};
    const caption = text && kind !== 'audio' && kind !== 'sticker' ? { caption: text } : {};
    message = {
      [mediaField]: {
        url: download.url,
        directPath: download.directPath,
        mediaKey: bytes(download.mediaKey),
        fileSha256: bytes(download.fileSha256),
        fileEncSha256: bytes(download.fileEncSha256),
        fileLength: media.size,
        mimetype: media.mimetype,
        ...caption,
        ...(kind === 'document' ? { fileName: media.fileName ?? 'file' } : {}),
        ...(kind === 'audio' ? { ptt: media.ptt ?? false } : {}),
        ...mentions,
      },
    };
    quoted = content.replyTo && quotedMessage(content.replyTo);
  } else {
    const built = baileysMessage({ kind, text, content });
    message = await generateWAMessageContent(built.content, {
      upload: () => Promise.reject(new Error('a message without a file uploads nothing')),
    });
    quoted = built.options.quoted;
  }
  return generateWAMessageFromContent(row.chat_jid, message, {
    userJid,
    messageId: id,
    ...(quoted ? { quoted } : {}),
  }).message as proto.IMessage;
}

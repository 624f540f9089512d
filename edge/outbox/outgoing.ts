// A POST /api/messages body turned into what the outbox keeps: the message's kind, text, content and, for
// a file sent inline, the file. Every check that can refuse the request runs here, before anything is
// queued: each kind of bad input has its own error code.
import type { Kysely } from 'kysely';
import { fromBase64 } from '../../shared/base64url.js';
import type { Database } from '../../shared/db-schema.js';
import { ApiError } from '../../shared/errors.js';
import {
  baseMimetype,
  MAX_CAPTION_LENGTH,
  MAX_INLINE_MEDIA_BYTES,
  MEDIA_LIMITS,
  type MediaType,
  mimetypeAllowed,
  type OutboxMessageBody,
  type OutgoingContent,
  sniffMimetype,
  vcardName,
  vcardNumbers,
} from '../../shared/message-content.js';
import { normalizeRecipient } from '../../shared/schemas.js';
import { checkWebhookUrl } from '../../shared/webhook-url.js';
import type { Sender } from './queries.js';

/** A file stored by the host from a URL, waiting to be claimed by the message that carries it. */
export type FetchedMedia = { id: string; mimetype: string; size: number };

/** What the outbox queues. */
export type Outgoing = {
  to: string;
  kind: string;
  /** The text, or a file's caption. */
  text: string | null;
  content: OutgoingContent;
  /** An inline file, stored with the message under `content.media.id`. */
  file?: { data: Uint8Array; mimetype: string };
  /** A file the host fetched, claimed by the message (`content.media.id`). */
  fetched?: FetchedMedia;
};

export type OutgoingDeps = {
  db: Kysely<Database>;
  sender: Sender;
  /** Asks the session's host to download a URL's file and keep it (refusals are ApiErrors). */
  fetchMedia(url: string, type: MediaType): Promise<FetchedMedia>;
};

/** A file uploaded as `multipart/form-data`, in place of `media.url` or `media.data`. */
export type Upload = { data: Uint8Array; mimetype?: string };

/** Normalises and checks a body; throws the ApiError that says what is wrong with it. */
export async function prepareOutgoing(
  body: OutboxMessageBody,
  deps: OutgoingDeps,
  upload?: Upload,
): Promise<Outgoing> {
  const to = normalizeRecipient(body.to);
  if (to === null) throw new ApiError('INVALID_RECIPIENT');
  const content: OutgoingContent = {};
  if (body.mentions?.length) {
    const mentions = body.mentions.map(normalizeRecipient);
    if (mentions.some((m) => m === null)) throw new ApiError('INVALID_MENTION');
    content.mentions = mentions as string[];
  }
  if (body.replyTo !== undefined) {
    const target = await messageInChat(deps, body.replyTo, to);
    if (!target) throw new ApiError('REPLY_TARGET_NOT_FOUND');
    content.replyTo = { id: body.replyTo, fromMe: target.direction === 'out', chat: to, text: target.text };
  }
  switch (body.type) {
    case undefined:
    case 'text':
      return { to, kind: 'text', text: body.text, content };
    case 'location': {
      const { latitude, longitude, name, address } = body.location;
      if (!(Math.abs(latitude) <= 90 && Math.abs(longitude) <= 180))
        throw new ApiError('LOCATION_OUT_OF_RANGE');
      content.location = { latitude, longitude, ...(name ? { name } : {}), ...(address ? { address } : {}) };
      return { to, kind: 'location', text: null, content };
    }
    case 'contact': {
      const { vcard } = body.contact;
      if (vcardNumbers(vcard).length === 0) throw new ApiError('VCARD_WITHOUT_NUMBER');
      content.contact = { displayName: body.contact.displayName ?? vcardName(vcard) ?? '', vcard };
      return { to, kind: 'contact', text: null, content };
    }
    case 'reaction': {
      const { messageId, emoji } = body.reaction;
      const target = await messageInChat(deps, messageId, to);
      if (!target) throw new ApiError('REACTION_TARGET_NOT_FOUND');
      content.reaction = { messageId, emoji, fromMe: target.direction === 'out', chat: to };
      return { to, kind: 'reaction', text: emoji || null, content };
    }
    default:
      return prepareMedia(body, to, content, deps, upload);
  }
}

async function prepareMedia(
  body: Extract<OutboxMessageBody, { media: unknown }>,
  to: string,
  content: OutgoingContent,
  deps: OutgoingDeps,
  upload: Upload | undefined,
): Promise<Outgoing> {
  const { type, media, caption } = body;
  if (caption !== undefined) {
    if (type === 'audio' || type === 'sticker') throw new ApiError('CAPTION_NOT_ALLOWED');
    if (caption.length > MAX_CAPTION_LENGTH) throw new ApiError('CAPTION_TOO_LONG');
  }
  const sources = [media.url, media.data, upload].filter((s) => s !== undefined).length;
  if (sources !== 1) throw new ApiError('MEDIA_SOURCE_INVALID');
  if (media.mimetype !== undefined && !mimetypeAllowed(type, media.mimetype)) {
    throw new ApiError('MEDIA_TYPE_NOT_ALLOWED');
  }
  const described = {
    ...(media.fileName ? { fileName: media.fileName } : {}),
    ...(type === 'audio' && body.ptt ? { ptt: true } : {}),
  };
  const text = caption ?? null;
  if (media.url !== undefined) {
    // The shape webhook URLs must have (absolute, no credentials, no fragment); whether its addresses are
    // public is the host's to check, at the connection it makes.
    const checked = checkWebhookUrl(media.url, { allowPrivate: true });
    if (!checked.ok) throw new ApiError('MEDIA_URL_INVALID');
    if (checked.url.protocol !== 'https:') throw new ApiError('MEDIA_URL_NOT_HTTPS');
    const fetched = await deps.fetchMedia(checked.url.href, type);
    const mimetype = media.mimetype ?? fetched.mimetype;
    content.media = { id: fetched.id, mimetype, size: fetched.size, ...described };
    return { to, kind: type, text, content, fetched };
  }
  const { data, mimetype: declared } = upload ?? decodeData(media.data ?? '');
  const limit = Math.min(MEDIA_LIMITS[type].maxBytes, MAX_INLINE_MEDIA_BYTES);
  if (data.length > limit) throw new ApiError('MEDIA_TOO_LARGE', { details: { maxBytes: limit } });
  const mimetype =
    media.mimetype ??
    declared ??
    sniffMimetype(data) ??
    (type === 'document' ? 'application/octet-stream' : '');
  if (!mimetypeAllowed(type, mimetype)) throw new ApiError('MEDIA_TYPE_NOT_ALLOWED');
  content.media = { id: crypto.randomUUID(), mimetype, size: data.length, ...described };
  return { to, kind: type, text, content, file: { data, mimetype: baseMimetype(mimetype) } };
}

/**
 * A character base64 does not use; where padding may stand is checked apart. With `=` in the class, V8
 * searches a megabyte in 1–2 ms; without it (`[^A-Za-z0-9+/]`, on the text short of its padding), 8–9.
 */
const NOT_BASE64 = /[^A-Za-z0-9+/=]/;

/**
 * The bytes of `media.data`: plain base64, or a `data:` URL (whose MIME type then counts as declared).
 * Whitespace (line breaks of a wrapped encoding) is ignored; anything else that is not base64 is refused.
 */
function decodeData(text: string): { data: Uint8Array; mimetype?: string } {
  const dataUrl = /^data:([^;,]+)?(?:;[^,]*)?;base64,/i.exec(text);
  const raw = dataUrl ? text.slice(dataUrl[0].length) : text;
  const encoded = /\s/.test(raw) ? raw.replace(/\s+/g, '') : raw;
  let end = encoded.length;
  while (end > 0 && encoded.charCodeAt(end - 1) === 61 /* = */) end--;
  const firstPad = encoded.indexOf('=');
  if (
    end === 0 ||
    encoded.length % 4 !== 0 ||
    encoded.length - end > 2 ||
    (firstPad !== -1 && firstPad < end) ||
    NOT_BASE64.test(encoded)
  ) {
    throw new ApiError('MEDIA_DATA_INVALID');
  }
  return { data: fromBase64(encoded), ...(dataUrl?.[1] ? { mimetype: dataUrl[1] } : {}) };
}

/** A message of the sender's session in chat `chat`; another session's looks unknown. */
function messageInChat({ db, sender }: OutgoingDeps, id: string, chat: string) {
  return db
    .selectFrom('messages')
    .select(['direction', 'text'])
    .where('session_id', '=', sender.sessionId)
    .where('id', '=', id)
    .where('chat_jid', '=', chat)
    .executeTakeFirst();
}

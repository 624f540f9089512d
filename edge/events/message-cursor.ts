// The `before` cursor of message listings: the last message's time (to the microsecond) and id, so the
// next page starts exactly after it however many messages arrive meanwhile. Opaque to clients (base64url
// of JSON), and checked on the way in: it is only ever a position, never a look-up, so a made-up one
// reveals nothing.

import { fromBase64url, toBase64url } from '../../shared/base64url.js';

export interface MessageCursor {
  /** `sent_at` in UTC with microseconds, as Postgres wrote it. */
  sentAt: string;
  id: string;
}

const SENT_AT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$/;
export const MAX_MESSAGE_ID_LENGTH = 128;

const toBase64Url = (text: string) => toBase64url(new TextEncoder().encode(text));

const fromBase64Url = (text: string) => {
  const bytes = fromBase64url(text);
  if (!bytes) throw new Error('not base64url');
  return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
};

export function encodeMessageCursor(cursor: MessageCursor): string {
  return toBase64Url(JSON.stringify([cursor.sentAt, cursor.id]));
}

/** The cursor, or undefined when the text is not one this edge made. */
export function decodeMessageCursor(text: string): MessageCursor | undefined {
  if (!/^[A-Za-z0-9_-]{1,300}$/.test(text)) return undefined;
  let value: unknown;
  try {
    value = JSON.parse(fromBase64Url(text));
  } catch {
    return undefined;
  }
  if (!Array.isArray(value) || value.length !== 2) return undefined;
  const [sentAt, id] = value as unknown[];
  if (typeof sentAt !== 'string' || !SENT_AT.test(sentAt) || Number.isNaN(Date.parse(sentAt)))
    return undefined;
  if (typeof id !== 'string' || id.length === 0 || id.length > MAX_MESSAGE_ID_LENGTH) return undefined;
  return { sentAt, id };
}

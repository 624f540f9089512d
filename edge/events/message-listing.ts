// What the session key's and the admin's message routes share: the listing and the look-up of one
// message of one session.
import type { Kysely } from 'kysely';
import type { Database } from '../../shared/db-schema.js';
import { ApiError } from '../../shared/errors.js';
import { type MessageListQuery, normalizeChat } from '../../shared/events.js';
import { messageView } from '../../shared/message-view.js';
import { decodeMessageCursor, MAX_MESSAGE_ID_LENGTH } from './message-cursor.js';
import { findMessage, listMessages } from './queries/messages.js';

/** The session whose messages are read: its id (sessions.id) and its name (the client's sessionId). */
export interface MessageSession {
  id: string;
  name: string;
}

/** The body of a message listing of `session`. */
export async function messageListing(db: Kysely<Database>, session: MessageSession, query: MessageListQuery) {
  let chat: string | undefined;
  if (query.chat !== undefined) {
    // The schema has checked it already; this is for the types.
    chat = normalizeChat(query.chat) ?? undefined;
    if (chat === undefined) throw new ApiError('VALIDATION_ERROR');
  }
  const before = query.before === undefined ? undefined : decodeMessageCursor(query.before);
  if (query.before !== undefined && before === undefined) throw new ApiError('INVALID_CURSOR');
  const page = await listMessages(db, session.id, { chat, before, limit: query.limit });
  return {
    success: true as const,
    messages: page.items.map((row) => messageView(row, session.name)),
    nextCursor: page.nextCursor,
  };
}

/** The body for one message of `session`; 404 MESSAGE_NOT_FOUND when the session has none of that id. */
export async function oneMessage(db: Kysely<Database>, session: MessageSession, id: string) {
  const row =
    id.length > 0 && id.length <= MAX_MESSAGE_ID_LENGTH ? await findMessage(db, session.id, id) : undefined;
  if (!row) throw new ApiError('MESSAGE_NOT_FOUND');
  return { success: true as const, message: messageView(row, session.name) };
}

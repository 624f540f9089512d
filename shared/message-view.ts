// A stored message row as the API shows it. Pure, so the edge (GET /api/messages) and the hosts (the
// `message.*` events) show the same thing.
import type { MessageRow } from './db-schema.js';
import type { Message, MessageStatus } from './events.js';

/** A stored row as the API shows it; `sessionName` is the seed's `sessionId`. */
export function messageView(row: MessageRow, sessionName: string): Message {
  const content = row.content as { quoted?: Message['quoted'] } | null;
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
    timestamp: row.sent_at.toISOString(),
    status: row.status as MessageStatus | null,
    statusAt: row.status_at?.toISOString() ?? null,
    failure: row.failure,
    source: row.source,
  };
}

import type { BinaryNode, WASocket } from '@whiskeysockets/baileys';
import type { Logger } from 'pino';
import type { SessionJournal } from '../events/journal.js';
import { STATUS_OF, storedMessageOf } from './messages.js';

/**
 * Writes what a socket hears to the session's journal: messages in (and those the account's own phone
 * sends), the server's acks of ours, and receipts. The journal keeps them in order and retries them.
 */
export function recordSocket(sock: WASocket, journal: SessionJournal, logger: Logger) {
  sock.ev.on('messages.upsert', ({ messages }) => {
    void Promise.all(messages.map((msg) => storedMessageOf(sock, msg)))
      .then((stored) => {
        const kept = stored.filter((m) => m !== undefined);
        if (kept.length > 0) return journal.messages(kept);
      })
      .catch((err: unknown) => logger.error({ err }, 'recording messages failed'));
  });
  sock.ev.on('messages.update', (updates) => {
    for (const { key, update } of updates) {
      const status = typeof update.status === 'number' ? STATUS_OF[update.status] : undefined;
      if (!key.fromMe || !key.id || !status) continue;
      const at =
        typeof update.messageTimestamp === 'number' && update.messageTimestamp > 0
          ? new Date(update.messageTimestamp * 1000)
          : new Date();
      void journal.status(key.id, status, at, status === 'failed' ? 'WhatsApp reported an error' : null);
    }
  });
  // Baileys sends our stanza and resolves; the server's ack of it is only on the socket.
  sock.ws.on('CB:ack,class:message', (node: BinaryNode) => {
    const { id, t, error } = node.attrs;
    if (!id) return;
    const at = t ? new Date(Number(t) * 1000) : new Date();
    void journal.serverAck(id, at, error ?? null);
  });
}

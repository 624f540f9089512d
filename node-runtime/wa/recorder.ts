import type { BinaryNode, UserFacingSocketConfig, WASocket } from '@whiskeysockets/baileys';
import type { Logger } from 'pino';
import { LeaseLostError } from '../db/lease-fence.js';
import type { SessionJournal } from '../events/journal.js';
import { changeOf, STATUS_OF, storedMessageOf } from './messages.js';

/**
 * The socket options that write what a socket hears to the session's journal before WhatsApp is told it
 * arrived (hooks our Baileys patch adds: patches/): messages in (and those the account's own phone
 * sends), and receipts for ours. Until the journal has committed, WhatsApp keeps the message or receipt
 * and delivers it again after a crash; the store drops the duplicate by message id. A write refused
 * because another host owns the session now closes the socket before Baileys can answer: the server
 * keeps the stanza for the new owner (a nack would make it drop it).
 */
export function recordingHooks(
  sock: () => WASocket | undefined,
  journal: SessionJournal,
): Pick<UserFacingSocketConfig, 'beforeMessageReceipt' | 'beforeReceiptAck'> {
  const closeIfMoved = (err: unknown) => {
    if (err instanceof LeaseLostError) sock()?.ws.close();
    throw err;
  };
  return {
    beforeMessageReceipt: async (msg) => {
      const current = sock();
      if (!current) return;
      const stored = await storedMessageOf(current, msg);
      if (stored) return journal.messages([stored]).catch(closeIfMoved);
      const change = await changeOf(current, msg);
      if (change) await journal.messageChanged(change).catch(closeIfMoved);
    },
    beforeReceiptAck: async ({ key, ids, status, timestamp }) => {
      const mapped = STATUS_OF[status];
      if (!key.fromMe || !mapped) return;
      const at = timestamp > 0 ? new Date(timestamp * 1000) : new Date();
      // Asked for together, a receipt's ids (a phone reads a chat's unread messages with one) are written
      // in one statement; one by one, each waited for the last, and Baileys holds its receipts meanwhile.
      await Promise.all(ids.map((id) => journal.status(id, mapped, at))).catch(closeIfMoved);
    },
  };
}

/** The server's acks of our messages: Baileys sends a stanza and resolves; the ack is only on the socket. */
export function recordServerAcks(sock: WASocket, journal: SessionJournal, logger: Logger) {
  sock.ws.on('CB:ack,class:message', (node: BinaryNode) => {
    const { id, t, error } = node.attrs;
    if (!id) return;
    const at = t ? new Date(Number(t) * 1000) : new Date();
    journal.serverAck(id, at, error ?? null).catch((err: unknown) => {
      if (!(err instanceof LeaseLostError)) logger.error({ err }, 'recording an ack failed');
    });
  });
}

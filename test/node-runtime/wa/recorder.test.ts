// What a socket hears is written to the session's journal before WhatsApp is told: here, the receipts
// for the session's own messages, on the real database.
import { proto, type WASocket } from '@whiskeysockets/baileys';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { SessionJournal } from '../../../node-runtime/events/journal.js';
import { recordingHooks } from '../../../node-runtime/wa/recorder.js';
import { queueText } from '../../helpers/outbox.js';
import { countingStatements, insertTenantSession, useTestDatabase } from '../../helpers/postgres.js';

const database = useTestDatabase();
const contact = '628111@s.whatsapp.net';

describe('a receipt for several of the session’s messages', () => {
  it('moves them all in one statement (a phone reads a chat’s unread messages with one receipt)', async () => {
    const { db } = database();
    const { tenantId, sessionId } = await insertTenantSession(db, 'recorder', 'recorder-s');
    const ids: string[] = [];
    for (const text of ['one', 'two', 'three']) ids.push(await queueText(db, sessionId, contact, text));
    const { counted, count } = countingStatements(db);
    const journal = new SessionJournal(
      { db: counted, hostId: 'h', logger: pino({ level: 'silent' }) },
      { id: sessionId, tenantId, name: 'recorder-s' },
      'connected',
    );
    const hooks = recordingHooks(() => ({}) as WASocket, journal);

    await hooks.beforeReceiptAck?.({
      key: { remoteJid: contact, fromMe: true, id: ids[0] },
      ids,
      status: proto.WebMessageInfo.Status.READ,
      timestamp: Math.floor(Date.now() / 1000),
    });

    expect(count()).toBe(1);
    const rows = await db
      .selectFrom('messages')
      .select('status')
      .where('id', 'in', ids)
      .orderBy('outbox_seq')
      .execute();
    expect(rows.map((row) => row.status)).toEqual(['read', 'read', 'read']);
  });
});

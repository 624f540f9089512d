// The session journal's status writes: changes that queue up together go in one statement, in order,
// and never ahead of a write queued before them.
import pino from 'pino';
import { beforeAll, describe, expect, it } from 'vitest';
import { SessionJournal } from '../../../node-runtime/events/journal.js';
import type { SessionRef } from '../../../node-runtime/events/store.js';
import { queueText } from '../../helpers/outbox.js';
import { insertTenantSession, useTestDatabase } from '../../helpers/postgres.js';

const database = useTestDatabase();
let session: SessionRef;
const contact = '628111@s.whatsapp.net';

beforeAll(async () => {
  const { tenantId, sessionId } = await insertTenantSession(database().db, 'journal', 'journal-s');
  session = { id: sessionId, tenantId, name: 'journal-s' };
});

const newJournal = (told: string[] = []) =>
  new SessionJournal(
    {
      db: database().db,
      hostId: 'h',
      logger: pino({ level: 'silent' }),
      onStatus: (id, status) => told.push(`${id}:${status}`),
    },
    session,
    'connected',
  );

/** The session's events after `seq`, in order: what each is about and its transaction's start. */
const eventsAfter = async (seq: number) =>
  (
    await database()
      .db.selectFrom('events')
      .select(['seq', 'type', 'data', 'created_at'])
      .where('session_id', '=', session.id)
      .where('seq', '>', String(seq))
      .orderBy('seq')
      .execute()
  ).map((e) => {
    const data = e.data as { id?: string; status?: string; message?: { id: string; status: string } };
    return {
      about: `${data.id ?? data.message?.id}:${data.status ?? data.message?.status}`,
      at: e.created_at.getTime(),
    };
  });

const lastSeq = async () =>
  Number(
    (
      await database()
        .db.selectFrom('events')
        .select(({ fn }) => fn.max('seq').as('seq'))
        .where('session_id', '=', session.id)
        .executeTakeFirst()
    )?.seq ?? 0,
  );

describe('status writes', () => {
  it('changes queued together are written in one statement, each event in the order they came', async () => {
    const ids = await Promise.all(
      [1, 2, 3].map((n) => queueText(database().db, session.id, contact, `m${n}`)),
    );
    const told: string[] = [];
    const journal = newJournal(told);
    const from = await lastSeq();
    const at = new Date();
    await Promise.all([
      journal.status(ids[1] as string, 'sent', at),
      journal.status(ids[0] as string, 'sent', at),
      journal.status(ids[2] as string, 'failed', at, 'refused by WhatsApp (error 479)'),
      // The same message again: it cannot move twice in one statement, so it goes in the next one.
      journal.status(ids[1] as string, 'delivered', at),
    ]);
    const events = await eventsAfter(from);
    expect(events.map((e) => e.about)).toEqual([
      `${ids[1]}:sent`,
      `${ids[0]}:sent`,
      `${ids[2]}:failed`,
      `${ids[1]}:delivered`,
    ]);
    // One transaction (hence one start time) for the first three, another for the fourth.
    expect(new Set(events.slice(0, 3).map((e) => e.at)).size).toBe(1);
    expect(told).toEqual([`${ids[1]}:sent`, `${ids[0]}:sent`, `${ids[2]}:failed`, `${ids[1]}:delivered`]);
  });

  it('a change never joins a batch queued before another write: the events keep their order', async () => {
    const ids = await Promise.all([1, 2].map((n) => queueText(database().db, session.id, contact, `n${n}`)));
    const journal = newJournal();
    const from = await lastSeq();
    const at = new Date();
    await Promise.all([
      journal.status(ids[0] as string, 'sent', at),
      journal.messages([
        {
          id: 'IN-1',
          direction: 'in',
          chatJid: contact,
          chatLid: null,
          senderJid: contact,
          senderLid: null,
          kind: 'text',
          text: 'between',
          quoted: null,
          sentAt: at,
          status: null,
          source: null,
        },
      ]),
      journal.status(ids[1] as string, 'sent', at),
    ]);
    expect((await eventsAfter(from)).map((e) => e.about)).toEqual([
      `${ids[0]}:sent`,
      'IN-1:null',
      `${ids[1]}:sent`,
    ]);
  });
});

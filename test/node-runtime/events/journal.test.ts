// The session journal's status writes: changes that queue up together go in one statement, in order,
// and never ahead of a write queued before them.
import { sql } from 'kysely';
import pino from 'pino';
import { beforeAll, describe, expect, it } from 'vitest';
import { SessionJournal } from '../../../node-runtime/events/journal.js';
import {
  insertMessagesWithEvents,
  type MessageInsert,
  type SessionRef,
  type StoredMessage,
} from '../../../node-runtime/events/store.js';
import { GroupWriter } from '../../../shared/group-writer.js';
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

/** A text message a contact sent to the session. */
const heard = (id: string): StoredMessage => ({
  id,
  direction: 'in',
  chatJid: contact,
  chatLid: null,
  senderJid: contact,
  senderLid: null,
  kind: 'text',
  text: id,
  quoted: null,
  sentAt: new Date(),
  status: null,
  source: 'phone',
});

/** The session's events after `seq`, in order: what each is about and its transaction's start. */
const eventsAfter = async (seq: number) =>
  (
    await database()
      .db.selectFrom('events')
      .select(['seq', 'type', 'data', 'created_at', sql<string>`xmin::text`.as('tx')])
      .where('session_id', '=', session.id)
      .where('seq', '>', String(seq))
      .orderBy('seq')
      .execute()
  ).map((e) => {
    const data = e.data as { id?: string; status?: string; message?: { id: string; status: string } };
    return {
      about: `${data.id ?? data.message?.id}:${data.status ?? data.message?.status}`,
      at: e.created_at.getTime(),
      tx: e.tx,
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
  it('changes queued together are written in one statement, acks apart from the rest, each event in the order they came', async () => {
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
      // The same message again: not in the acks' statement; with the failure, which comes after it.
      journal.status(ids[1] as string, 'delivered', at),
    ]);
    const events = await eventsAfter(from);
    expect(events.map((e) => e.about)).toEqual([
      `${ids[1]}:sent`,
      `${ids[0]}:sent`,
      `${ids[2]}:failed`,
      `${ids[1]}:delivered`,
    ]);
    // One transaction for the two acks (whose commit need not wait for the disk), another for the rest.
    const [first, second, third, fourth] = events.map((e) => e.tx);
    expect(second).toBe(first);
    expect(fourth).toBe(third);
    expect(third).not.toBe(first);
    expect(told).toEqual([`${ids[1]}:sent`, `${ids[0]}:sent`, `${ids[2]}:failed`, `${ids[1]}:delivered`]);
  });

  it('acks and receipts that take turns go in two statements, not one each; each message keeps its order', async () => {
    const ids = await Promise.all(
      [1, 2, 3].map((n) => queueText(database().db, session.id, contact, `t${n}`)),
    );
    const journal = newJournal();
    const from = await lastSeq();
    const at = new Date();
    // As a busy session hears them: each message's ack, then its delivery receipt.
    await Promise.all(
      ids.flatMap((id) => [journal.status(id, 'sent', at), journal.status(id, 'delivered', at)]),
    );
    const events = await eventsAfter(from);
    expect(events.map((e) => e.about)).toEqual([
      ...ids.map((id) => `${id}:sent`),
      ...ids.map((id) => `${id}:delivered`),
    ]);
    // The acks in one transaction (no wait for the disk), the receipts in the next.
    expect(new Set(events.slice(0, 3).map((e) => e.tx)).size).toBe(1);
    expect(new Set(events.slice(3).map((e) => e.tx)).size).toBe(1);
    expect(events[3]?.tx).not.toBe(events[0]?.tx);
  });

  it('a change never joins a batch queued before another write: the events keep their order', async () => {
    const ids = await Promise.all([1, 2].map((n) => queueText(database().db, session.id, contact, `n${n}`)));
    const journal = newJournal();
    const from = await lastSeq();
    const at = new Date();
    await Promise.all([
      journal.status(ids[0] as string, 'sent', at),
      journal.messages([{ ...heard('IN-1'), text: 'between', sentAt: at, source: null }]),
      journal.status(ids[1] as string, 'sent', at),
    ]);
    expect((await eventsAfter(from)).map((e) => e.about)).toEqual([
      `${ids[0]}:sent`,
      'IN-1:null',
      `${ids[1]}:sent`,
    ]);
  });
});

describe('message writes', () => {
  it("several sessions' messages heard together share one statement, each session's in its order", async () => {
    const { db } = database();
    const other = await insertTenantSession(db, 'journal-other', 'journal-o');
    const otherRef: SessionRef = { id: other.sessionId, tenantId: other.tenantId, name: 'journal-o' };
    const statements: string[][] = [];
    const shared = new GroupWriter<MessageInsert, { hooked: boolean } | undefined>(async (items) => {
      statements.push(items.map((i) => `${i.session.name}/${i.message.id}`));
      return insertMessagesWithEvents(db, items);
    });
    const journalOf = (ref: SessionRef) =>
      new SessionJournal(
        { db, hostId: 'h', logger: pino({ level: 'silent' }), inserts: shared },
        ref,
        'connected',
      );
    const third = await insertTenantSession(db, 'journal-third', 'journal-t');
    const [a, b, c] = [
      journalOf(session),
      journalOf(otherRef),
      journalOf({ id: third.sessionId, tenantId: third.tenantId, name: 'journal-t' }),
    ];
    await Promise.all([
      a.messages([heard('x-1')]),
      b.messages([heard('y-1'), heard('y-2')]),
      c.messages([heard('z-1')]),
      a.messages([heard('x-2')]),
    ]);
    // Heard in one turn: a's first, b's two and c's go together; a's second waits for a's first (its
    // journal keeps its order), so it goes after.
    expect(statements).toEqual([
      ['journal-s/x-1', 'journal-o/y-1', 'journal-o/y-2', 'journal-t/z-1'],
      ['journal-s/x-2'],
    ]);
    const events = await db
      .selectFrom('events')
      .select(['session_name', 'data'])
      .where('type', '=', 'message.received')
      .where('session_name', 'in', ['journal-s', 'journal-o', 'journal-t'])
      .orderBy('seq')
      .execute();
    const ids = (name: string) =>
      events
        .filter((e) => e.session_name === name)
        .map((e) => (e.data as { message: { id: string } }).message.id)
        .filter((id) => /^[xyz]-/.test(id));
    expect(ids('journal-s')).toEqual(['x-1', 'x-2']);
    expect(ids('journal-o')).toEqual(['y-1', 'y-2']);
    expect(ids('journal-t')).toEqual(['z-1']);
  });
});

describe('edits and deletions', () => {
  const textOf = async (id: string) =>
    (
      await database()
        .db.selectFrom('messages')
        .select(['text', 'content'])
        .where('session_id', '=', session.id)
        .where('id', '=', id)
        .executeTakeFirstOrThrow()
    ).text;

  it('change only a message of that chat by that author, once; a deleted message stays deleted', async () => {
    const journal = newJournal();
    await journal.messages([heard('edit-me')]);
    const before = await lastSeq();
    const chat = { jid: contact, lid: null };
    const at = new Date();
    // Not the author (the account's own phone cannot edit the contact's message), not that chat: nothing.
    await journal.messageChanged({ kind: 'edit', id: 'edit-me', chat, direction: 'out', text: 'forged', at });
    await journal.messageChanged({
      kind: 'edit',
      id: 'edit-me',
      chat: { jid: '628999@s.whatsapp.net', lid: null },
      direction: 'in',
      text: 'forged',
      at,
    });
    await journal.messageChanged({ kind: 'delete', id: 'no-such-message', chat, direction: 'in', at });
    expect(await textOf('edit-me')).toBe('edit-me');
    expect(await lastSeq()).toBe(before);
    await journal.messageChanged({ kind: 'edit', id: 'edit-me', chat, direction: 'in', text: 'edited', at });
    expect(await textOf('edit-me')).toBe('edited');
    await journal.messageChanged({ kind: 'delete', id: 'edit-me', chat, direction: 'in', at });
    await journal.messageChanged({ kind: 'delete', id: 'edit-me', chat, direction: 'in', at });
    await journal.messageChanged({ kind: 'edit', id: 'edit-me', chat, direction: 'in', text: 'back', at });
    expect(await textOf('edit-me')).toBeNull();
    const types = (
      await database()
        .db.selectFrom('events')
        .select('type')
        .where('session_id', '=', session.id)
        .where('seq', '>', String(before))
        .orderBy('seq')
        .execute()
    ).map((e) => e.type);
    expect(types).toEqual(['message.updated', 'message.deleted']);
  });
});

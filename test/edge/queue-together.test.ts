// Messages queued together (POST /api/messages and /api/send without a key or a file) share one INSERT
// and one commit on the edge's pool, on the real database: each keeps its own fields, the queue order is
// the order they were asked in, and one the database refuses fails alone.
import { randomUUID } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { queueMessage, type Sender } from '../../edge/outbox/queries.js';
import { useEdge } from './fixture.js';
import { createSessionRow } from './helpers.js';
import { type LoggedDb, loggedDb } from './query-log.js';

let logged: LoggedDb;
const fx = useEdge({
  hosts: ['host-queue-together'],
  tenants: ['together'],
  edge: ({ database }) => {
    logged = loggedDb(database.url);
    return { db: logged.db };
  },
});

let sender: Sender;
beforeAll(async () => {
  const { db, tenantId } = fx();
  const sessionId = await createSessionRow(db, { tenantId, name: 'together' });
  sender = { tenantId, sessionId, sessionName: 'together' };
});

const inserts = () => logged.statements.filter((s) => /^\s*insert into "?messages"?\s/i.test(s)).length;
const request = (text: string, to = '6281234567890@s.whatsapp.net') => ({ to, text, leaseMs: 30_000 });

describe('messages queued together', () => {
  it('go in one INSERT, each with its own fields, in the order asked', async () => {
    const before = inserts();
    const now = new Date('2026-12-01T10:00:00.000Z');
    // Asked in one turn of the event loop: the six go together.
    const queued = await Promise.all(
      Array.from({ length: 6 }, (_, i) =>
        queueMessage(
          logged.db,
          sender,
          { ...request(`m${i}`, `62811111111${i}@s.whatsapp.net`), ttlSeconds: 60 + i },
          new Date(now.getTime() + i),
        ),
      ),
    );
    expect(inserts() - before).toBe(1);
    const rows = await fx()
      .db.selectFrom('messages')
      .select(['id', 'chat_jid', 'text', 'kind', 'status', 'direction', 'source', 'sent_at', 'expires_at'])
      .where('session_id', '=', sender.sessionId)
      .orderBy('outbox_seq')
      .execute();
    expect(rows.map((r) => r.id)).toEqual(queued.map((q) => ('id' in q ? q.id : null)));
    rows.forEach((row, i) => {
      expect(row).toMatchObject({
        chat_jid: `62811111111${i}@s.whatsapp.net`,
        text: `m${i}`,
        kind: 'text',
        status: 'queued',
        direction: 'out',
        source: 'api',
      });
      expect(row.sent_at.getTime()).toBe(now.getTime() + i);
      expect((row.expires_at?.getTime() ?? 0) - row.sent_at.getTime()).toBe((60 + i) * 1000);
    });
  });

  it('one the database refuses (its session is gone) fails alone; the others are queued', async () => {
    const gone: Sender = { ...sender, sessionId: randomUUID() };
    // Asked in one turn, the four share an INSERT, which the database refuses; each then goes alone.
    const results = await Promise.allSettled([
      queueMessage(logged.db, sender, request('lead'), new Date()),
      queueMessage(logged.db, sender, request('ok-1'), new Date()),
      queueMessage(logged.db, gone, request('refused'), new Date()),
      queueMessage(logged.db, sender, request('ok-2'), new Date()),
    ]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'fulfilled', 'rejected', 'fulfilled']);
    const texts = await fx()
      .db.selectFrom('messages')
      .select('text')
      .where('session_id', 'in', [sender.sessionId, gone.sessionId])
      .where('text', 'in', ['lead', 'ok-1', 'refused', 'ok-2'])
      .orderBy('outbox_seq')
      .execute();
    expect(texts.map((t) => t.text)).toEqual(['lead', 'ok-1', 'ok-2']);
  });
});

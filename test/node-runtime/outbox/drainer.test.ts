// A session's outbox at rest: it sleeps until something wakes it, making no statement of its own, so a
// host's pool closes its idle connections however many sessions it runs.
import type { WAMessage } from '@whiskeysockets/baileys';
import { pino } from 'pino';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { SessionJournal } from '../../../node-runtime/events/journal.js';
import { SessionOutbox } from '../../../node-runtime/outbox/drainer.js';
import { NO_PACING } from '../../../shared/outbox.js';
import { queueText } from '../../helpers/outbox.js';
import { useTestDatabase } from '../../helpers/postgres.js';

const database = useTestDatabase();
const logger = pino({ level: 'silent' });

/** Lets the event loop run for `ms`, whether setTimeout is faked or not. */
const realPause = async (ms: number) => {
  const until = performance.now() + ms;
  while (performance.now() < until) await new Promise((resolve) => setImmediate(resolve));
};

afterEach(() => {
  vi.useRealTimers();
});

describe('an outbox at rest', () => {
  it('makes no statement until woken, then sends what was queued', async () => {
    const { db } = database();
    const tenant = await db
      .insertInto('tenants')
      .values({ name: 'rest' })
      .returning('id')
      .executeTakeFirstOrThrow();
    const session = await db
      .insertInto('sessions')
      .values({ tenant_id: tenant.id, name: 'rest', host_id: null })
      .returning('id')
      .executeTakeFirstOrThrow();
    let statements = 0;
    const counted = db.withPlugin({
      transformQuery: (args) => {
        statements++;
        return args.node;
      },
      transformResult: async (args) => args.result,
    });
    const sent: string[] = [];
    // Only the outbox's own timers are the question; the database client keeps its real ones running.
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const outbox = new SessionOutbox({
      db: counted,
      sessionId: session.id,
      journal: new SessionJournal(
        { db: counted, hostId: 'host-rest', logger },
        { id: session.id, tenantId: tenant.id, name: 'rest' },
        'connected',
      ),
      logger,
      send: async (message) => {
        sent.push(message.id);
        return { ok: true, message: { key: { id: message.id } } as WAMessage };
      },
      presence: async () => {},
      readiness: () => 'connected',
      defaultPacing: NO_PACING,
    });
    outbox.start();
    try {
      // Its first look at the queue (empty), then it records that nothing is due.
      while (statements < 2) await realPause(10);
      await realPause(100);
      const atRest = statements;

      // An hour passes with nothing queued: not one statement.
      vi.advanceTimersByTime(3_600_000);
      // Real timers again: the database client's own waits (a reconnect after its idle close) need them.
      vi.useRealTimers();
      await realPause(200);
      expect(statements).toBe(atRest);

      // A message queued behind its back (no notification reached it): the host's look nudges it.
      const id = await queueText(db, session.id, '628500000099@s.whatsapp.net', 'later');
      outbox.nudge();
      while (sent.length === 0) await realPause(10);
      expect(sent).toEqual([id]);
    } finally {
      vi.useRealTimers();
      await outbox.stop();
    }
  });
});

// A session's outbox, on the real database with a socket the test plays: at rest it sleeps until woken,
// making no statement of its own (so a host's pool closes its idle connections however many sessions it
// runs); what one look at the queue claimed is handed over at once, unless a file is among it.
import type { WAMessage } from '@whiskeysockets/baileys';
import { type Kysely, type RootOperationNode, sql } from 'kysely';
import { pino } from 'pino';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { SessionJournal } from '../../../node-runtime/events/journal.js';
import { type OutboxDeps, SessionOutbox } from '../../../node-runtime/outbox/drainer.js';
import type { SendResult } from '../../../node-runtime/session/machine.js';
import type { Database } from '../../../shared/db-schema.js';
import { MESSAGE_STATUS_RANK } from '../../../shared/events.js';
import { NO_PACING } from '../../../shared/outbox.js';
import { queueText } from '../../helpers/outbox.js';
import { useTestDatabase } from '../../helpers/postgres.js';

const database = useTestDatabase();
const logger = pino({ level: 'silent' });
const CHAT = '628500000099@s.whatsapp.net';

/** Lets the event loop run for `ms`, whether setTimeout is faked or not. */
const realPause = async (ms: number) => {
  const until = performance.now() + ms;
  while (performance.now() < until) await new Promise((resolve) => setImmediate(resolve));
};

afterEach(() => {
  vi.useRealTimers();
});

/** A tenant and a session of it, for an outbox to send from. */
const newSession = async (name: string) => {
  const { db } = database();
  const tenant = await db.insertInto('tenants').values({ name }).returning('id').executeTakeFirstOrThrow();
  const session = await db
    .insertInto('sessions')
    .values({ tenant_id: tenant.id, name, host_id: null })
    .returning('id')
    .executeTakeFirstOrThrow();
  return { id: session.id, tenantId: tenant.id, name };
};

/** An outbox of a connected, unpaced session, whose socket is `send`. */
const outboxOf = (
  session: { id: string; tenantId: string; name: string },
  db: Kysely<Database>,
  send: OutboxDeps['send'],
) =>
  new SessionOutbox({
    db,
    sessionId: session.id,
    journal: new SessionJournal({ db, hostId: 'host-outbox', logger }, session, 'connected'),
    logger,
    send,
    presence: async () => {},
    readiness: () => 'connected',
    defaultPacing: NO_PACING,
  });

/** Queues texts to one chat in one transaction, so one look at the queue finds them all. */
const queueTogether = (sessionId: string, texts: string[]) =>
  database()
    .db.transaction()
    .execute(async (trx) => {
      const ids: string[] = [];
      for (const text of texts) ids.push(await queueText(trx, sessionId, CHAT, text));
      return ids;
    });

/**
 * `db` counting the statements it runs (those `matches`): `count()` is how many have answered so far (a
 * look counted is one whose claim is made, not one still under way).
 */
const counting = (db: Kysely<Database>, matches: (node: RootOperationNode) => boolean = () => true) => {
  let n = 0;
  const running = new WeakSet<object>();
  const counted = db.withPlugin({
    transformQuery: (args) => {
      if (matches(args.node)) running.add(args.queryId);
      return args.node;
    },
    transformResult: async (args) => {
      if (running.delete(args.queryId)) n++;
      return args.result;
    },
  });
  return { counted, count: () => n };
};

const sentAs = (id: string) => ({ ok: true as const, message: { key: { id } } as WAMessage });

/** Picks out the looks at the queue (claimNext's statement). */
const isLook = (node: RootOperationNode) =>
  node.kind === 'RawNode' && node.sqlFragments.join('').includes('candidates as');

/** A socket that holds what it is handed until the test lets it go, oldest first. */
const heldSocket = () => {
  const handed: string[] = [];
  const held: { id: string; answer: (result: SendResult) => void }[] = [];
  return {
    handed,
    send: (message: { id: string }) =>
      new Promise<SendResult>((answer) => {
        handed.push(message.id);
        held.push({ id: message.id, answer });
      }),
    holding: () => held.length > 0,
    /** The oldest held goes: sent, or failed for a passing reason. */
    release(failed = false) {
      const next = held.shift();
      next?.answer(
        failed ? { ok: false, error: 'send-failed', cause: new Error('dropped') } : sentAs(next.id),
      );
    },
    releaseAll() {
      while (held.length > 0) this.release();
    },
  };
};

/**
 * A new session's outbox on a socket that holds what it is handed, with its looks at the queue counted;
 * started, past its first look (at an empty queue). `queue` queues a text and wakes the outbox, as the
 * notification of a queued message does.
 */
const heldOutbox = async (name: string) => {
  const session = await newSession(name);
  const { db } = database();
  const { counted, count: looks } = counting(db, isLook);
  const socket = heldSocket();
  const outbox = outboxOf(session, counted, socket.send);
  outbox.start();
  await until(() => looks() === 1);
  const queue = async (text: string) => {
    const id = await queueText(db, session.id, CHAT, text);
    outbox.wake();
    return id;
  };
  return { session, db, looks, socket, outbox, queue };
};

/** Waits (a while at most) for `done`. */
const until = async (done: () => boolean, ms = 3_000) => {
  const end = performance.now() + ms;
  while (!done() && performance.now() < end) await realPause(10);
};

/** The attempts (hand-overs) of messages `ids`, in queue order. */
const attemptsOf = async (ids: string[]) => {
  const rows = await database()
    .db.selectFrom('messages')
    .select('attempts')
    .where('id', 'in', ids)
    .orderBy('outbox_seq')
    .execute();
  return rows.map((row) => row.attempts);
};

describe('an outbox at rest', () => {
  it('makes no statement until woken, then sends what was queued', async () => {
    const { db } = database();
    const session = await newSession('rest');
    const { counted, count: statements } = counting(db);
    const sent: string[] = [];
    // Only the outbox's own timers are the question; the database client keeps its real ones running.
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const outbox = outboxOf(session, counted, async (message) => {
      sent.push(message.id);
      return sentAs(message.id);
    });
    outbox.start();
    try {
      // Its first look at the queue (empty), then it records that nothing is due.
      while (statements() < 2) await realPause(10);
      await realPause(100);
      const atRest = statements();

      // An hour passes with nothing queued: not one statement.
      vi.advanceTimersByTime(3_600_000);
      // Real timers again: the database client's own waits (a reconnect after its idle close) need them.
      vi.useRealTimers();
      await realPause(200);
      expect(statements()).toBe(atRest);

      // A message queued behind its back (no notification reached it): the host's look nudges it.
      const id = await queueText(db, session.id, CHAT, 'later');
      outbox.nudge();
      while (sent.length === 0) await realPause(10);
      expect(sent).toEqual([id]);
    } finally {
      vi.useRealTimers();
      await outbox.stop();
    }
  });
});

/** Makes a queued text an image (its file is never read here: the sockets are the tests'). */
const asImage = (id: string) =>
  database()
    .db.updateTable('messages')
    .set({
      kind: 'image',
      content: sql`${JSON.stringify({ media: { id: 'f1', mimetype: 'image/png' } })}::text::jsonb`,
    })
    .where('id', '=', id)
    .execute();

describe('an outbox with several messages queued', () => {
  /** Records when each send starts and ends; each takes a moment, as a socket's does. */
  const recordingSocket = (log: string[]) => async (message: { id: string }) => {
    log.push(`start ${message.id}`);
    await new Promise((r) => setTimeout(r, 20));
    log.push(`end ${message.id}`);
    return sentAs(message.id);
  };

  it('hands texts over at once, in order, for the socket to send together', async () => {
    const session = await newSession('texts');
    const ids = await queueTogether(session.id, ['a', 'b', 'c']);
    const log: string[] = [];
    const outbox = outboxOf(session, database().db, recordingSocket(log));
    outbox.start();
    try {
      while (log.length < 6) await realPause(10);
      expect(log).toEqual([...ids.map((id) => `start ${id}`), ...ids.map((id) => `end ${id}`)]);
    } finally {
      await outbox.stop();
    }
  });

  it('with a file among them, one at a time: the file is read before it is handed over', async () => {
    const session = await newSession('files');
    const ids = await queueTogether(session.id, ['a', 'b', 'c']);
    await asImage(ids[1] ?? '');
    const log: string[] = [];
    const outbox = outboxOf(session, database().db, recordingSocket(log));
    outbox.start();
    try {
      while (log.length < 6) await realPause(10);
      expect(log).toEqual(ids.flatMap((id) => [`start ${id}`, `end ${id}`]));
    } finally {
      await outbox.stop();
    }
  });

  it('one at a time, the first failing: the others were not handed over, and no attempt is counted', async () => {
    const session = await newSession('files-failed');
    const ids = await queueTogether(session.id, ['a', 'b', 'c']);
    await asImage(ids[1] ?? '');
    const handed: string[] = [];
    const outbox = outboxOf(session, database().db, async (message) => {
      handed.push(message.id);
      // The first hand-over fails for a passing reason; it goes again after its pause.
      return handed.length === 1
        ? { ok: false, error: 'send-failed', cause: new Error('dropped') }
        : sentAs(message.id);
    });
    outbox.start();
    try {
      await until(() => handed.length === 4, 5_000);
      expect(handed).toEqual([ids[0], ...ids]);
      expect(await attemptsOf(ids)).toEqual([2, 1, 1]);
    } finally {
      await outbox.stop();
    }
  });
});

describe('an outbox asked for the outcome of a message it holds', () => {
  it('does not look at the queue again for it (what `/api/send` asks once its message is queued)', async () => {
    const { session, db, looks, socket, outbox, queue } = await heldOutbox('asked');
    try {
      await realPause(50);
      const id = await queue('asked for');
      while (!socket.holding()) await realPause(10);
      expect(looks()).toBe(2);

      // Asked while the socket has it in hand, and again once it is in flight: no look for either.
      const asked = outbox.outcome(id, 5_000);
      socket.release();
      await realPause(100);
      const again = outbox.outcome(id, 5_000);
      await realPause(100);
      expect(looks()).toBe(2);

      // Its server ack settles both (the journal writes the row, then tells the outbox).
      await db
        .updateTable('messages')
        .set({ status: 'sent', status_rank: MESSAGE_STATUS_RANK.sent })
        .where('id', '=', id)
        .execute();
      outbox.settled(id, 'sent', null);
      expect(await asked).toEqual({ status: 'sent', failure: null });
      expect(await again).toEqual({ status: 'sent', failure: null });

      // A message the outbox was never told of (its notification lost) still wakes it, a moment later.
      const later = await queueText(db, session.id, CHAT, 'not yet claimed');
      void outbox.outcome(later, 5_000);
      while (!socket.holding()) await realPause(10);
      expect(looks()).toBe(3);
    } finally {
      socket.releaseAll(); // stop() waits for the hand-over under way
      await outbox.stop();
    }
  });

  it('nor for one the look made during a hand-over has taken', async () => {
    const { looks, socket, outbox, queue } = await heldOutbox('asked-ahead');
    try {
      const first = await queue('first');
      await until(socket.holding);
      const second = await queue('second'); // its notification: the look ahead takes it
      void outbox.outcome(second, 5_000); // then `/api/send` asks for it
      await until(() => looks() === 3);
      await realPause(300); // past the moment an ask for a message not taken wakes the outbox
      socket.release();
      await until(() => socket.handed.length === 2);
      socket.release();
      await realPause(200);
      expect(socket.handed).toEqual([first, second]);
      expect(looks()).toBe(3); // no look for the ask
    } finally {
      socket.releaseAll();
      await outbox.stop();
    }
  });
});

describe('an outbox handing a message over', () => {
  it('looks at the queue for what is queued meanwhile, and sends that once the hand-over went', async () => {
    const { looks, socket, outbox, queue } = await heldOutbox('ahead');
    try {
      const first = await queue('first');
      await until(socket.holding);
      // Queued while the socket holds the first: its look does not wait for that hand-over to end.
      const second = await queue('second');
      await until(() => looks() === 3);
      expect(looks()).toBe(3);
      expect(socket.handed).toEqual([first]);

      socket.release();
      await until(() => socket.handed.length === 2);
      expect(socket.handed).toEqual([first, second]);
      socket.release();
      await realPause(100);
      expect(looks()).toBe(3); // what that look claimed went without another
    } finally {
      socket.releaseAll();
      await outbox.stop();
    }
  });

  it('keeps queue order across a reconnect: what was in flight goes again before what the look ahead took', async () => {
    const { looks, socket, outbox, queue } = await heldOutbox('ahead-reconnect');
    try {
      const a = await queue('a');
      await until(socket.holding);
      socket.release(); // handed over: in flight, its ack not come
      const b = await queue('b');
      await until(() => socket.handed.length === 2);
      const c = await queue('c');
      await until(() => looks() === 4); // the look ahead has taken c

      outbox.connected(); // a new connection: a, never acknowledged, must go again, and before c
      // a and c may go in one look, or a first and c once a's hand-over ended: each is let go in turn.
      await until(() => {
        socket.releaseAll();
        return socket.handed.length === 4;
      });
      expect(socket.handed).toEqual([a, b, a, c]);
    } finally {
      socket.releaseAll();
      await outbox.stop();
    }
  });

  it('keeps queue order when the hand-over fails: what the look ahead claimed waits behind it', async () => {
    const { looks, socket, outbox, queue } = await heldOutbox('ahead-failed');
    try {
      const first = await queue('first');
      await until(socket.holding);
      const second = await queue('second');
      await until(() => looks() === 3); // the look ahead has claimed the second

      socket.release(true); // the first fails; after its pause it goes again, before the second
      await until(() => socket.handed.length === 3, 5_000);
      expect(socket.handed).toEqual([first, first, second]);
      // Attempts count hand-overs: the second's claim by the look ahead, let go, is not one.
      expect(await attemptsOf([first, second])).toEqual([2, 1]);
    } finally {
      socket.releaseAll();
      await outbox.stop();
    }
  });
});

describe('an outbox whose session the admin paced since its last look', () => {
  it('claims only what that pacing lets go, then keeps the gap before each of the others', async () => {
    const session = await newSession('paced-since');
    const { db } = database();
    const ids = await queueTogether(session.id, ['a', 'b', 'c']);
    // Set after the outbox last read the session's pacing (it has not read it at all: the deployment's
    // default, unpaced). Its look reads the pacing it claims under.
    await db
      .updateTable('sessions')
      .set({
        pacing: sql`${JSON.stringify({ minIntervalMs: 300, jitterMs: 0, typingMs: 0, perChatMinIntervalMs: 0 })}::text::jsonb`,
      })
      .where('id', '=', session.id)
      .execute();
    const sentAt: { id: string; at: number }[] = [];
    const outbox = outboxOf(session, db, async (message) => {
      sentAt.push({ id: message.id, at: performance.now() });
      return sentAs(message.id);
    });
    outbox.start();
    try {
      while (sentAt.length < 3) await realPause(10);
      expect(sentAt.map((s) => s.id)).toEqual(ids);
      const gaps = sentAt.slice(1).map((s, i) => s.at - (sentAt[i]?.at ?? 0));
      expect(Math.min(...gaps)).toBeGreaterThanOrEqual(290);
      // Each claimed once, when it went: no attempt counted for a claim that could not go.
      expect(await attemptsOf(ids)).toEqual([1, 1, 1]);
    } finally {
      await outbox.stop();
    }
  });
});

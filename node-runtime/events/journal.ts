// One session's writes to the database, in the order they happened: its state mirror, its messages and
// the events that report them, each change and its event in one transaction. A write that fails (the
// database is away) is retried, holding back the session's later writes, so nothing is reordered; only
// a process that dies with writes still queued loses them. A write refused by the lease fence (another
// host owns the session now) is not retried: it rejects with LeaseLostError, and so does every later one.
import { type Kysely, sql } from 'kysely';
import type { Logger } from 'pino';
import type { Database, MessageRow } from '../../shared/db-schema.js';
import { insertEvent } from '../../shared/event-log.js';
import { type EventData, MESSAGE_STATUS_RANK, type MessageStatus } from '../../shared/events.js';
import { GroupWriter } from '../../shared/group-writer.js';
import { type MediaDownload, messageView } from '../../shared/message-view.js';
import { type Fence, holdLease, LeaseLostError, lostLease } from '../db/lease-fence.js';
import {
  advanceStatusesWithEvents,
  insertMessagesWithEvents,
  isAck,
  keepDownload,
  type MessageInsert,
  type MovedStatus,
  type SessionRef,
  type StatusBatch,
  type StatusChange,
  type StatusesMoved,
  type StoredMessage,
} from './store.js';

/** A message's author edited it (`text` is the new text or caption) or deleted it for everyone. */
export type MessageChange = {
  kind: 'edit' | 'delete';
  id: string;
  /** The chat, as the change came (phone JID, LID). */
  chat: { jid: string; lid: string | null };
  /** Who wrote the message: the contact (`in`) or the account itself (`out`). */
  direction: 'in' | 'out';
  text?: string | null;
  at: Date;
};

/**
 * Writes the status changes of all of a host's sessions, those that queue up together in one statement:
 * acks with acks and the rest (receipts, failures) with the rest: a statement of acks only commits
 * without waiting for the disk (advanceStatusesWithEvents), one with both waits.
 */
export class StatusWriter {
  private readonly acks: GroupWriter<StatusBatch, StatusesMoved>;
  private readonly others: GroupWriter<StatusBatch, StatusesMoved>;

  constructor(db: Kysely<Database>, fence?: Fence) {
    const write = (batches: StatusBatch[]) => advanceStatusesWithEvents(db, batches, fence);
    this.acks = new GroupWriter<StatusBatch, StatusesMoved>(write);
    this.others = new GroupWriter<StatusBatch, StatusesMoved>(write);
  }

  submit(batch: StatusBatch): Promise<StatusesMoved> {
    return (batch.changes.every(isAck) ? this.acks : this.others).submit(batch);
  }
}

export const statusWriter = (db: Kysely<Database>, fence?: Fence) => new StatusWriter(db, fence);

/** Stores the messages all of a host's sessions hear, those that queue up together in one statement. */
export type MessageWriter = GroupWriter<MessageInsert, { hooked: boolean } | undefined>;

export const messageWriter = (db: Kysely<Database>, fence?: Fence): MessageWriter =>
  new GroupWriter<MessageInsert, { hooked: boolean } | undefined>((items) =>
    insertMessagesWithEvents(db, items, fence),
  );

/** The sessions-table columns a state change writes; the account only when known or wiped. */
export type SessionRow = { state: string; account_jid?: string | null; account_name?: string | null };

export type StateChange = {
  row: SessionRow;
  connected: boolean;
  user: { id: string; name: string | null } | null;
  /** Why the session is where it is (logged out, replaced, ...), when it is a resting or retrying state. */
  reason: string | null;
};

type OpenStatuses = { seq: number; acks: boolean; changes: StatusChange[]; written: Promise<void> };

const RETRY_MIN_MS = 100;
const RETRY_MAX_MS = 5_000;

export class SessionJournal {
  private tail: Promise<void> = Promise.resolve();
  /** Whether the transaction under way inserted an event. */
  private wrote = false;
  /** Statuses the transaction under way moved, told once it commits. */
  private moved: MovedStatus[] = [];
  private pending = 0;
  /** Writes queued since the journal began. */
  private enqueued = 0;
  /**
   * Status batches queued and not under way yet, at most one of acks and one of the rest, which later
   * changes may join; none once another kind of write is queued after them.
   */
  private openStatuses: OpenStatuses[] = [];
  private readonly statuses: StatusWriter;
  private readonly inserts: MessageWriter;
  private closed = false;
  /** Another host owns the session now: nothing more is written. */
  private lost = false;

  constructor(
    private readonly deps: {
      db: Kysely<Database>;
      hostId: string;
      logger: Logger;
      /** Told after an event of a tenant with a webhook endpoint was committed, with the tenant (wakes the webhook worker). */
      onEvent?: (tenantId: string) => void;
      /** Told after an outbound message's status was committed (the outbox waits on it). */
      onStatus?: (id: string, status: MessageStatus, failure: string | null) => void;
      /** Told of each message stored for the first time (not a redelivery), after it was committed. */
      onStored?: (direction: 'in' | 'out') => void;
      /** The host's status writer, shared by its sessions; by default one of this journal's own. */
      statuses?: StatusWriter;
      /** The host's message writer, shared likewise. */
      inserts?: MessageWriter;
      /** The host's leases: every write is refused once another host owns the session. */
      fence?: Fence;
    },
    readonly session: SessionRef,
    /** The state the sessions table shows now: the first change reports it as the previous one. */
    private lastState: string,
  ) {
    this.statuses = deps.statuses ?? statusWriter(deps.db, deps.fence);
    this.inserts = deps.inserts ?? messageWriter(deps.db, deps.fence);
  }

  /** Writes still queued or under way. */
  get backlog() {
    return this.pending;
  }

  /** Resolves once everything queued so far is written (or given up on by `close`). */
  settled(): Promise<void> {
    return this.tail;
  }

  /** Stops retrying: a host shutting down gives up on what the database will not take. */
  close() {
    this.closed = true;
  }

  /**
   * The session stopped here (without its lease, or handed over once its writes settled): writes queued
   * or retrying are refused with LeaseLostError (so a message is never acknowledged to WhatsApp unstored),
   * and so are later ones.
   */
  abandon() {
    this.lost = true;
  }

  /**
   * A public state change: the sessions row (only while this host holds the session's lease: the
   * update is the fence) and, when the state itself changed, a `session.status` event, in one transaction.
   */
  stateChanged(change: StateChange): Promise<void> {
    const fence = this.deps.fence;
    return this.enqueue('state', async (trx) => {
      const epoch = fence?.epochOf(this.session.id);
      if (fence && epoch === undefined) throw lostLease(fence, this.session.id);
      const updated = await trx
        .updateTable('sessions')
        .set(change.row)
        .where('id', '=', this.session.id)
        .where('host_id', '=', this.deps.hostId)
        .$if(epoch !== undefined, (qb) => qb.where('lease_epoch', '=', epoch ?? '0'))
        .executeTakeFirst();
      if (updated.numUpdatedRows === 0n) {
        if (fence) throw lostLease(fence, this.session.id);
        return;
      }
      const previous = this.lastState;
      if (change.row.state === previous) return;
      this.lastState = change.row.state;
      await this.event(trx, 'session.status', {
        sessionId: this.session.name,
        state: change.row.state,
        previousState: previous,
        connected: change.connected,
        user: change.user,
        reason: change.reason,
      });
    });
  }

  /** A pairing code was given out: `session.pairing_code`, so a live view (SSE, the console) shows it. */
  pairingCode(code: string): Promise<void> {
    return this.enqueue('pairing-code', async (trx) => {
      await this.event(trx, 'session.pairing_code', { sessionId: this.session.name, code });
    });
  }

  /** A new QR to show: `session.qr` with the raw text. */
  qr(qr: string): Promise<void> {
    return this.enqueue('qr', async (trx) => {
      await this.event(trx, 'session.qr', { sessionId: this.session.name, qr });
    });
  }

  /**
   * Messages WhatsApp delivered to the session (and ones its own phone sent): stored once each, with
   * `message.received` (or `message.sent` for the phone's own) the first time.
   */
  messages(messages: StoredMessage[]): Promise<void> {
    // Each message with its event, atomic on its own; the host's message writer may put them in one
    // statement with other sessions' (in their order), and the queue keeps this session's order.
    return this.enqueue(
      'messages',
      async () => {
        const written = await Promise.all(
          messages.map((message) =>
            this.inserts.submit({
              session: this.session,
              message,
              type: message.direction === 'in' ? 'message.received' : 'message.sent',
            }),
          ),
        );
        if (written.some((w) => w?.hooked)) this.wrote = true; // undefined: a redelivery, already stored
        written.forEach((w, i) => {
          const direction = messages[i]?.direction;
          if (w && direction) this.deps.onStored?.(direction);
        });
      },
      false,
    );
  }

  /** WhatsApp's server acknowledged (or refused) a message this session sent. */
  serverAck(id: string, at: Date, error: string | null): Promise<void> {
    if (error) return this.status(id, 'failed', at, `refused by WhatsApp (error ${error})`);
    return this.status(id, 'sent', at);
  }

  /**
   * A receipt moved an outbound message forward (delivered, read, played), or it failed. Changes that
   * queue up behind a write under way go together, acks in one batch and the rest in another, as long
   * as no other kind of write was queued after them; the host's status writer may join each with other
   * sessions' batches in one statement.
   */
  status(id: string, status: MessageStatus, at: Date, failure: string | null = null): Promise<void> {
    const change = { id, status, at, failure };
    const acks = isAck(change);
    // Acks and receipts take turns as they come (each message's ack, then its receipt). A change joins
    // the open batch of its kind even with one of the other kind queued after it, which is about other
    // messages: a message's changes stay in the order they came.
    const open = this.openStatuses.find((b) => b.acks === acks);
    if (open && !this.openStatuses.some((b) => b.seq >= open.seq && b.changes.some((c) => c.id === id))) {
      open.changes.push(change);
      return open.written;
    }
    const batch: OpenStatuses = {
      seq: this.enqueued + 1,
      acks,
      changes: [change],
      written: Promise.resolve(),
    };
    this.openStatuses = [...this.openStatuses.filter((b) => b.acks !== acks), batch];
    batch.written = this.enqueue(
      'status',
      async () => {
        // Under way: no more joins it.
        this.openStatuses = this.openStatuses.filter((b) => b !== batch);
        const { moved, hooked } = await this.statuses.submit({
          session: this.session,
          changes: batch.changes,
        });
        this.moved.push(...moved);
        if (hooked) this.wrote = true;
      },
      false,
    );
    return batch.written;
  }

  /**
   * Its author edited a message, or deleted it for everyone: the row changes (a deleted message loses its
   * text, file and the rest, as it does on the phones) with a `message.updated` or `message.deleted`
   * event. A change to a message this session does not have, of another chat or author, or already
   * deleted, changes nothing.
   */
  messageChanged(change: MessageChange): Promise<void> {
    return this.enqueue('change', async (trx) => {
      const at = change.at.toISOString();
      const patch =
        change.kind === 'edit'
          ? sql`text = ${change.text}, content = m.content || jsonb_build_object('editedAt', ${at}::text)`
          : sql`text = null, content = (m.content - 'media' - 'download' - 'location' - 'contact' - 'reaction'
              - 'mentions' - 'editedAt') || jsonb_build_object('deletedAt', ${at}::text)`;
      const { rows } = await sql<MessageRow>`
        update messages m set ${patch}
        where m.session_id = ${this.session.id} and m.id = ${change.id} and m.direction = ${change.direction}
          and (m.chat_jid = ${change.chat.jid} or m.chat_lid = ${change.chat.lid})
          and not (m.content ? 'deletedAt')
        returning m.*`.execute(trx);
      const row = rows[0];
      if (!row) return;
      const sessionId = this.session.name;
      if (change.kind === 'edit') {
        await this.event(trx, 'message.updated', { sessionId, message: messageView(row, sessionId) });
      } else {
        await this.event(trx, 'message.deleted', { sessionId, id: row.id, chat: row.chat_jid, at });
      }
    });
  }

  /** A file we sent went up to WhatsApp: keep what downloading it again takes (GET .../media). */
  keepSentFile(id: string, download: MediaDownload): Promise<void> {
    return this.enqueue('sent-file', (db) => keepDownload(db, this.session.id, id, download));
  }

  /**
   * Cancels (or fails) a queued message never handed to WhatsApp (`/api/send` gave up waiting for its
   * turn, or found the session away); one the outbox already handed over is left to it.
   */
  cancelIfUnsent(id: string, failure: string, status: 'cancelled' | 'failed' = 'cancelled'): Promise<void> {
    return this.enqueue('cancel', async (trx) => {
      const at = new Date();
      const cancelled = await trx
        .updateTable('messages')
        .set({ status, status_rank: MESSAGE_STATUS_RANK[status], status_at: at, failure })
        .where('session_id', '=', this.session.id)
        .where('id', '=', id)
        .where('status', '=', 'queued')
        .where('attempts', '=', 0)
        .returning('chat_jid')
        .executeTakeFirst();
      if (cancelled) await this.statusMoved(trx, cancelled.chat_jid, id, status, at, failure);
    });
  }

  /** Fails the queued messages whose ttl has passed, even while the session cannot send. */
  failExpired(failure: string, now: Date): Promise<void> {
    return this.enqueue('fail-expired', async (trx) => {
      const failed = await trx
        .updateTable('messages')
        .set({ status: 'failed', status_rank: MESSAGE_STATUS_RANK.failed, status_at: now, failure })
        .where('session_id', '=', this.session.id)
        .where('queue_seq', 'is not', null)
        .where('expires_at', '<=', now)
        .returning(['id', 'chat_jid'])
        .execute();
      for (const m of failed) await this.statusMoved(trx, m.chat_jid, m.id, 'failed', now, failure);
    });
  }

  /** Fails every queued message of the session (it was logged out): none is sent after. */
  failQueued(failure: string): Promise<void> {
    return this.enqueue('fail-queued', async (trx) => {
      const at = new Date();
      const failed = await trx
        .updateTable('messages')
        .set({ status: 'failed', status_rank: MESSAGE_STATUS_RANK.failed, status_at: at, failure })
        .where('session_id', '=', this.session.id)
        .where('queue_seq', 'is not', null)
        .returning(['id', 'chat_jid'])
        .execute();
      for (const m of failed) await this.statusMoved(trx, m.chat_jid, m.id, 'failed', at, failure);
    });
  }

  private async statusMoved(
    trx: Kysely<Database>,
    chat: string,
    id: string,
    status: MessageStatus,
    at: Date,
    failure: string | null,
  ) {
    this.moved.push({ id, status, failure });
    if (status === 'queued' || status === 'sent') return;
    await this.event(trx, 'message.status', {
      sessionId: this.session.name,
      id,
      chat,
      status,
      failure,
      at: at.toISOString(),
    });
  }

  private event<T extends Parameters<typeof insertEvent>[2]>(
    trx: Kysely<Database>,
    type: T,
    data: EventData<T>,
  ) {
    this.wrote = true;
    return insertEvent(
      trx,
      { tenantId: this.session.tenantId, sessionId: this.session.id, sessionName: this.session.name },
      type,
      data,
    );
  }

  /**
   * Queues a write; `transaction` false for work that is one statement (atomic already) and should not
   * pay for BEGIN and COMMIT.
   */
  private enqueue(
    what: string,
    work: (db: Kysely<Database>) => Promise<void>,
    transaction = true,
  ): Promise<void> {
    this.pending++;
    this.enqueued++;
    // Nothing queued before this write may grow past it.
    if (what !== 'status') this.openStatuses = [];
    const fence = this.deps.fence;
    const run = async () => {
      for (let delay = RETRY_MIN_MS; ; delay = Math.min(delay * 2, RETRY_MAX_MS)) {
        if (this.lost) throw new LeaseLostError(this.session.id);
        try {
          this.wrote = false;
          this.moved = [];
          if (transaction) {
            await this.deps.db.transaction().execute(async (trx) => {
              // The state write fences itself: its update names the epoch (a share lock first would
              // deadlock with another writer of the row upgrading its own).
              if (fence && what !== 'state') await holdLease(trx, fence, this.session.id);
              await work(trx);
            });
          } else await work(this.deps.db);
          if (this.wrote) this.deps.onEvent?.(this.session.tenantId);
          for (const m of this.moved) this.deps.onStatus?.(m.id, m.status, m.failure);
          return;
        } catch (err) {
          if (err instanceof LeaseLostError) {
            this.lost = true;
            this.deps.logger.info({ sessionId: this.session.id, what }, 'write refused: the session moved');
            throw err;
          }
          if (this.closed) {
            this.deps.logger.error(
              { err, sessionId: this.session.id, what },
              'session write lost at shutdown',
            );
            return;
          }
          this.deps.logger.warn(
            { err, sessionId: this.session.id, what, retryInMs: delay },
            'session write failed',
          );
          await new Promise((r) => setTimeout(r, delay));
        }
      }
    };
    const next = this.tail.then(run).finally(() => this.pending--);
    // Refused writes (the lease was lost) reject their caller; the queue goes on to refuse the rest.
    this.tail = next.catch(() => undefined);
    return next;
  }
}

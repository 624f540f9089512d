import type { WASocket } from '@whiskeysockets/baileys';
import type { Kysely } from 'kysely';
import type { Logger } from 'pino';
import { createActor, fromPromise, waitFor } from 'xstate';
import { leastLoadedLiveHost } from '../../edge/hosts/queries/hosts.js';
import { MAX_READ_IDS, type PRESENCE_STATES } from '../../shared/chats.js';
import type { Database } from '../../shared/db-schema.js';
import { ApiError } from '../../shared/errors.js';
import type { MessageStatus } from '../../shared/events.js';
import type { HostMediaBody } from '../../shared/message-content.js';
import type { MediaDownload, StoredContent } from '../../shared/message-view.js';
import { DEFAULT_PACING, type Pacing, SEND_FAILURES } from '../../shared/outbox.js';
import type { HostSendResponse } from '../../shared/schemas.js';
import type { Fence } from '../db/lease-fence.js';
import {
  type MessageWriter,
  messageWriter,
  SessionJournal,
  type SessionRow,
  type StateChange,
  type StatusWriter,
  statusWriter,
} from '../events/journal.js';
import { keepDownload } from '../events/store.js';
import { MediaFetcher } from '../media/download.js';
import { fileOf, keepUnclaimed } from '../media/outbox-media.js';
import { MediaDownloader } from '../media/url-fetch.js';
import type { HostMetrics } from '../metrics/host-metrics.js';
import { type SendReadiness, SessionOutbox } from '../outbox/drainer.js';
import { countQueued, messageOf, sessionsWithQueued } from '../outbox/queries.js';
import {
  callSocket,
  isConnected,
  type PublicState,
  publicState,
  type SessionActorRef,
  type SessionSnapshot,
  sendText,
  sessionMachine,
  type WipeAuthInput,
} from '../session/machine.js';
import { type AuthStore, createAuthStore, type KeyWriter, keyWriter } from '../wa/auth-store.js';
import { checkNumbers } from '../wa/number-check.js';
import { sentRowOf } from '../wa/resend.js';
import { makeSocketActor, type WaConnection } from '../wa/socket-actor.js';
import { claimOrphans, handOver, ownedLeases } from './handover.js';
import type { Beat } from './registry.js';
import { type ClaimedSession, claimStoredSession, sessionExists } from './stored-sessions.js';

/** States in which a session rests until someone asks for a QR (or logs it in again). */
const RESTING: readonly PublicState[] = ['idle', 'logged-out', 'qr-expired', 'replaced', 'failed'];

export type SessionView = {
  state: PublicState;
  connected: boolean;
  qr: string | null;
  user?: { id: string; name: string | null };
};

/** How long `/api/send` waits for its message's turn and the server's ack (under the edge's timeout). */
export const SEND_WAIT_MS = 25_000;
const OUTBOX_POLL_MS = 2_000;

/** What `/api/send` gets back from the host. */
export type QueuedSend =
  | { ok: true; message: { id: string; status: HandedOverStatus } }
  | {
      ok: false;
      error: 'not-connected' | 'reconnecting' | 'not-on-whatsapp' | 'busy' | 'failed' | 'not-found';
      failure?: string;
    };

/** Where a message handed to WhatsApp stands: `queued` until the server's ack. */
type HandedOverStatus = HostSendResponse['status'];

/** A message no longer queued, as `/api/send` reports it. */
const settledSend = (m: {
  id: string;
  status: MessageStatus | null;
  failure: string | null;
  attempts: number;
}): QueuedSend => {
  if (m.status === 'failed' || m.status === 'cancelled') {
    // Cancelled for taking too long, but already handed to WhatsApp: it went.
    const failure = m.failure ?? 'cancelled';
    if (failure === SEND_FAILURES.notOnWhatsApp) return { ok: false, error: 'not-on-whatsapp', failure };
    if (failure === SEND_FAILURES.notLinked || failure === SEND_FAILURES.loggedOut)
      return { ok: false, error: 'not-connected', failure };
    if (failure === SEND_FAILURES.reconnecting) return { ok: false, error: 'reconnecting', failure };
    if (failure === SEND_FAILURES.busy) return { ok: false, error: 'busy', failure };
    return { ok: false, error: 'failed', failure };
  }
  // Still queued after the wait: handed to WhatsApp but not acknowledged yet counts as sent, as Baileys
  // reports a send once its stanza is written; never handed over (cancelled above) is busy.
  if (m.status === 'queued' && m.attempts === 0) return { ok: false, error: 'busy' };
  return {
    ok: true,
    message: { id: m.id, status: m.status === 'queued' || !m.status ? 'queued' : m.status },
  };
};

/** Where a session stands for its outbox. */
const readinessOf = (snapshot: SessionSnapshot): SendReadiness =>
  isConnected(snapshot) ? 'connected' : publicState(snapshot) === 'logged-out' ? 'logged-out' : 'waiting';

/** How long a stopping host waits for its sessions' last writes when the database is away. */
const JOURNAL_DRAIN_MS = 5_000;

/** Sessions a host starts together (claimed, or its own after a restart) connect this far apart. */
export const RESUME_STAGGER_MS = 20;

/** The lease this host holds a session under: its epoch, and when it was taken (performance.now()). */
type Lease = { epoch: string; at: number };

/** States whose `reason` says why the session is there. */
const EXPLAINED: readonly PublicState[] = ['logged-out', 'replaced', 'failed', 'qr-expired', 'reconnecting'];

/** A state change as the journal records it: the row to mirror and what the event says. */
const changeOf = (snapshot: SessionSnapshot, row: SessionRow): StateChange => {
  const state = publicState(snapshot);
  const { user, lastError } = snapshot.context;
  return {
    row,
    connected: isConnected(snapshot),
    user: user && { id: user.id, name: user.name },
    reason: EXPLAINED.includes(state) ? (lastError?.reason ?? null) : null,
  };
};

const viewOf = (actor: SessionActorRef): SessionView => {
  const snapshot = actor.getSnapshot();
  const user = snapshot.context.user;
  const connected = isConnected(snapshot);
  return {
    state: publicState(snapshot),
    connected,
    qr: snapshot.context.qr,
    ...(user && connected ? { user } : {}),
  };
};

/**
 * The sessions one host runs: one session actor each, its auth state in Postgres, its state mirrored
 * to the sessions table. Everything here is keyed by sessions.id.
 */
export class SessionHost {
  private readonly actors = new Map<string, SessionActorRef>();
  /** Actors being created from the database: concurrent first requests share one load. */
  private readonly loading = new Map<string, Promise<SessionActorRef>>();
  private readonly stores = new Map<string, Promise<AuthStore>>();
  /** Each running session's writes: state, messages, events. */
  private readonly journals = new Map<string, SessionJournal>();
  /** Each running session's outbox. */
  private readonly outboxes = new Map<string, SessionOutbox>();
  /** The lease of each session this host runs: every write for it is fenced by its epoch. */
  private readonly leases = new Map<string, Lease>();
  private readonly unsubscribe = new Map<string, () => void>();
  /** Sessions being handed to another host: requests wait, then hear SESSION_MOVED. */
  private readonly handing = new Map<string, Promise<boolean>>();
  /** Sessions to start one after another, RESUME_STAGGER_MS apart. */
  private starting: Promise<unknown> = Promise.resolve();
  private claiming: Promise<unknown> = Promise.resolve();
  private readonly fence: Fence;
  private poller: ReturnType<typeof setInterval> | undefined;
  /** Socket endings still in flight; stopAll waits for them. */
  private readonly ending = new Set<Promise<void>>();
  private stopping = false;
  private readonly machine;
  /** Group commit across the host's sessions: their key and status writes that meet share a statement. */
  private readonly keyWriter: KeyWriter;
  private readonly statusWriter: StatusWriter;
  private readonly messageWriter: MessageWriter;
  private downloader: MediaDownloader | undefined;
  private fetcher: MediaFetcher | undefined;

  constructor(
    private readonly deps: {
      db: Kysely<Database>;
      hostId: string;
      wa: WaConnection;
      logger: Logger;
      /** Told after an event of a tenant with a webhook endpoint was written, with the tenant (wakes the webhook worker). */
      onEvent?: (tenantId: string) => void;
      /** Pacing of sessions whose tenant admin set none (default: DEFAULT_PACING). */
      pacing?: Pacing;
      /** Downloads media URLs for messages (default: public https only). */
      downloader?: MediaDownloader;
      /** Whether this host's lease holds now (default: always; a registered host passes its lease's). */
      leaseHeld?: () => boolean;
      /** Reconnects, sends and messages heard are counted here (GET /metrics). */
      metrics?: HostMetrics;
    },
  ) {
    this.fence = {
      hostId: deps.hostId,
      epochOf: (sessionId) => this.leases.get(sessionId)?.epoch,
      // Told from inside a write: stop the session once that write has unwound.
      lost: (sessionId) => setImmediate(() => this.forget(sessionId, 'a write was refused')),
    };
    this.keyWriter = keyWriter(deps.db, this.fence);
    this.statusWriter = statusWriter(deps.db, this.fence);
    this.messageWriter = messageWriter(deps.db, this.fence);
    this.downloader = deps.downloader;
    this.machine = sessionMachine.provide({
      actors: {
        socket: makeSocketActor({
          authStore: (id) => this.store(id),
          wa: deps.wa,
          logger: deps.logger,
          onEnding: (ended) => {
            const tracked = ended.catch(() => undefined).finally(() => this.ending.delete(tracked));
            this.ending.add(tracked);
          },
          journal: (id) => this.journal(id),
          sentRow: (sessionId, id) => sentRowOf(deps.db, sessionId, id),
          onAskedAgain: () => deps.metrics?.askedAgain.inc(),
        }),
        wipeAuth: fromPromise<void, WipeAuthInput>(async ({ input }) => {
          await (await this.store(input.sessionId)).clear();
        }),
      },
    });
  }

  /** How many of this host's sessions are in each public state (metrics). */
  stateCounts(): Map<string, number> {
    const counts = new Map<string, number>();
    for (const actor of this.actors.values()) {
      const state = publicState(actor.getSnapshot());
      counts.set(state, (counts.get(state) ?? 0) + 1);
    }
    return counts;
  }

  /** Messages queued for this host's sessions, not yet handed to WhatsApp (metrics). */
  queuedCount(): Promise<number> {
    return countQueued(this.deps.db, [...this.actors.keys()]);
  }

  get size() {
    return this.actors.size;
  }

  private store(sessionId: string) {
    let store = this.stores.get(sessionId);
    if (!store) {
      store = createAuthStore(this.deps.db, sessionId, { keyWriter: this.keyWriter, fence: this.fence });
      store.catch(() => this.stores.delete(sessionId));
      this.stores.set(sessionId, store);
    }
    return store;
  }

  /** Whether sessions may start here: not stopping, and the host's lease holds. */
  private get open() {
    return !this.stopping && (this.deps.leaseHeld?.() ?? true);
  }

  /**
   * The session's actor. A new one takes the session's lease (only if the session is assigned to this
   * host) and starts where the stored session was (loaded from the sessions table and its
   * credentials), so a request can never put a linked session back to idle: a linked session resumes at
   * once. 404 SESSION_NOT_FOUND for a session that does not exist, 409 SESSION_MOVED for one another
   * host owns; none while the host is shutting down or its lease does not hold.
   */
  actor(sessionId: string): Promise<SessionActorRef> {
    const existing = this.actors.get(sessionId);
    if (existing) return Promise.resolve(existing);
    if (!this.open) return Promise.reject(new ApiError('HOST_UNAVAILABLE', { retryAfterSeconds: 5 }));
    const handing = this.handing.get(sessionId);
    if (handing) {
      return handing.then((moved) => {
        if (moved) throw new ApiError('SESSION_MOVED');
        return this.actor(sessionId);
      });
    }
    let loading = this.loading.get(sessionId);
    if (!loading) {
      loading = claimStoredSession(this.deps.db, this.deps.hostId, sessionId)
        .then(async (claimed) => {
          if (!claimed) {
            throw new ApiError(
              (await sessionExists(this.deps.db, sessionId)) ? 'SESSION_MOVED' : 'SESSION_NOT_FOUND',
            );
          }
          if (!this.open) throw new ApiError('HOST_UNAVAILABLE', { retryAfterSeconds: 5 });
          return this.spawn(claimed);
        })
        .finally(() => this.loading.delete(sessionId));
      this.loading.set(sessionId, loading);
    }
    return loading;
  }

  /** The session's journal; it exists from the moment its actor is made. */
  private journal(sessionId: string): SessionJournal {
    const journal = this.journals.get(sessionId);
    if (!journal) throw new Error(`no journal for session ${sessionId}: its actor was never made here`);
    return journal;
  }

  private spawn({ id: sessionId, epoch, stored }: ClaimedSession): SessionActorRef {
    this.leases.set(sessionId, { epoch, at: performance.now() });
    const journal = new SessionJournal(
      {
        ...this.deps,
        fence: this.fence,
        statuses: this.statusWriter,
        inserts: this.messageWriter,
        onStatus: (id, status, failure) => {
          if (status === 'sent' || status === 'failed') this.deps.metrics?.sent.inc({ outcome: status });
          this.outboxes.get(sessionId)?.settled(id, status, failure);
        },
        onStored: (direction) => {
          if (direction === 'in') this.deps.metrics?.received.inc();
        },
      },
      { id: sessionId, tenantId: stored.tenantId, name: stored.name },
      stored.state,
    );
    this.journals.set(sessionId, journal);
    const actor = createActor(this.machine, {
      input: { sessionId, user: stored.user, restore: stored.restore },
    });
    const outbox = new SessionOutbox({
      db: this.deps.db,
      sessionId,
      journal,
      logger: this.deps.logger,
      send: async (message) => {
        const mediaId = message.content.media?.id;
        const file = mediaId ? await fileOf(this.deps.db, sessionId, mediaId) : undefined;
        const outgoing = { kind: message.kind, text: message.text, content: message.content, file };
        return sendText(actor, { id: message.id, to: message.to, text: message.text ?? '', outgoing });
      },
      presence: async (to, typing) => actor.send({ type: 'PRESENCE', to, typing }),
      readiness: () => readinessOf(actor.getSnapshot()),
      defaultPacing: this.deps.pacing ?? DEFAULT_PACING,
      fence: this.fence,
    });
    this.outboxes.set(sessionId, outbox);
    // What the table already shows needs no write (a host resuming hundreds of sessions at start).
    let mirrored: string | undefined = JSON.stringify({ state: stored.state });
    let shownQr: string | null = null;
    let { attempts, restarts } = actor.getSnapshot().context;
    const subscription = actor.subscribe({
      next: (snapshot) => {
        const { context } = snapshot;
        if (context.attempts > attempts)
          this.deps.metrics?.reconnects.inc({ reason: context.lastError?.reason ?? 'unknown' });
        if (context.restarts > restarts) this.deps.metrics?.reconnects.inc({ reason: 'restart-required' });
        ({ attempts, restarts } = context);
        const qr = snapshot.context.qr;
        // A write refused here (the session moved) has stopped the session already: nothing to add.
        if (qr && qr !== shownQr) void journal.qr(qr).catch(() => undefined);
        shownQr = qr;
        const row = this.rowOf(snapshot);
        const key = JSON.stringify(row.account_jid === undefined ? { state: row.state } : row);
        if (key === mirrored) return;
        mirrored = key;
        this.deps.logger.info({ sessionId, state: row.state }, 'session state');
        void journal.stateChanged(changeOf(snapshot, row)).catch(() => undefined);
        // Connected: queued messages can go (and unacknowledged ones again). Logged out: they fail.
        if (row.state === 'connected') outbox.connected();
        if (row.state === 'logged-out') outbox.wake();
      },
      error: (err) => this.deps.logger.error({ err, sessionId }, 'session actor failed'),
    });
    this.unsubscribe.set(sessionId, () => subscription.unsubscribe());
    this.actors.set(sessionId, actor);
    actor.start();
    outbox.start();
    if (stored.finishLogout) actor.send({ type: 'LOGOUT' });
    return actor;
  }

  /**
   * What the sessions table shows. The account is written when known and cleared only by a wipe
   * (logged out): a state without a user (a fresh actor, a reconnect) must never erase a linked account.
   */
  private rowOf(snapshot: SessionSnapshot): SessionRow {
    const state: PublicState = publicState(snapshot);
    const user = snapshot.context.user;
    if (user) return { state, account_jid: user.id, account_name: user.name };
    if (state === 'logged-out') return { state, account_jid: null, account_name: null };
    return { state };
  }

  /** Starts connecting if the session rests idle (a new session shows its first QR). */
  async start(sessionId: string): Promise<SessionView> {
    const actor = await this.actor(sessionId);
    if (publicState(actor.getSnapshot()) === 'idle') actor.send({ type: 'START' });
    return viewOf(actor);
  }

  async view(sessionId: string): Promise<SessionView> {
    return viewOf(await this.actor(sessionId));
  }

  /**
   * The QR to show: from a resting state this starts a new pairing, then waits up to `waitMs` for the
   * QR (or for the stored credentials to log straight in).
   */
  async qr(sessionId: string, waitMs = 5_000): Promise<SessionView> {
    const actor = await this.actor(sessionId);
    const state = publicState(actor.getSnapshot());
    if (RESTING.includes(state)) actor.send({ type: state === 'idle' ? 'START' : 'REQUEST_QR' });
    await waitFor(actor, (s) => s.context.qr !== null || isConnected(s) || RESTING.includes(publicState(s)), {
      timeout: waitMs,
    }).catch(() => undefined);
    return viewOf(actor);
  }

  /**
   * A pairing code for `phone` (international digits), formatted `ABCD-EFGH`: from a resting state this
   * starts a new pairing as `qr` does, waits for the socket to show its first QR (it can link then), and
   * asks WhatsApp through Baileys' `requestPairingCode`. A linked session is refused.
   */
  async pairingCode(sessionId: string, phone: string, waitMs = 10_000): Promise<{ code: string }> {
    const actor = await this.actor(sessionId);
    if (actor.getSnapshot().context.user !== null) throw new ApiError('ALREADY_LINKED');
    const view = await this.qr(sessionId, waitMs);
    if (view.connected) throw new ApiError('ALREADY_LINKED');
    if (view.qr === null) throw new ApiError('PAIRING_NOT_READY');
    const result = await callSocket(actor, (sock) => sock.requestPairingCode(phone), 30_000, true);
    if (!result.ok) {
      if (result.error !== 'failed') {
        // The socket stopped showing a QR meanwhile: linked by someone else, or closed.
        throw new ApiError(actor.getSnapshot().context.user ? 'ALREADY_LINKED' : 'PAIRING_NOT_READY');
      }
      // WhatsApp refuses a number it does not know with an iq error 404 (Baileys' Boom carries the code).
      const refusal = (result.cause as { data?: unknown } | undefined)?.data;
      throw new ApiError(refusal === 404 ? 'PHONE_NOT_ON_WHATSAPP' : 'PAIRING_CODE_FAILED', {
        cause: result.cause,
      });
    }
    const raw = String(result.value);
    const code = `${raw.slice(0, 4)}-${raw.slice(4)}`;
    await this.journal(sessionId).pairingCode(code);
    return { code };
  }

  /**
   * Downloads a media URL's file for a message the edge is about to queue, and keeps it unclaimed; the
   * session need not be running (nor even linked: the message waits in the outbox).
   */
  async fetchMedia(
    sessionId: string,
    { url, type }: HostMediaBody,
  ): Promise<{ id: string; mimetype: string; size: number }> {
    this.downloader ??= new MediaDownloader({ allowPrivate: false, extraCa: this.deps.wa.mediaCa });
    const file = await this.downloader.download(url, type);
    const id = await keepUnclaimed(this.deps.db, sessionId, file).catch((err: unknown) => {
      // The session was deleted meanwhile (its row is what the file hangs on).
      if ((err as { code?: string }).code === '23503') throw new ApiError('SESSION_NOT_FOUND');
      throw err;
    });
    return { id, mimetype: file.mimetype, size: file.data.length };
  }

  /**
   * A message's file (received, or sent by this session), downloaded and decrypted as it streams, with
   * what the client is told of it. The session need not be connected: WhatsApp's media servers take no
   * login.
   */
  async mediaFile(sessionId: string, messageId: string) {
    const row = await this.deps.db
      .selectFrom('messages')
      .select(['content', 'chat_jid', 'direction'])
      .where('session_id', '=', sessionId)
      .where('id', '=', messageId)
      .executeTakeFirst();
    if (!row) throw new ApiError('MESSAGE_NOT_FOUND');
    const content = row.content as StoredContent | null;
    const { download, media } = content ?? {};
    if (!download || !media) throw new ApiError('MESSAGE_HAS_NO_MEDIA');
    this.fetcher ??= new MediaFetcher(this.deps.wa.mediaCa);
    const fetcher = this.fetcher;
    const stream = await fetcher.open(download).catch(async (err: unknown) => {
      // WhatsApp's copy of a received file is gone: its sender's phone can upload it again.
      if (!(err instanceof ApiError) || err.code !== 'MEDIA_EXPIRED' || row.direction !== 'in') throw err;
      const again = await this.reuploaded(sessionId, messageId, row.chat_jid, download).catch(() => {
        throw err;
      });
      return fetcher.open(again);
    });
    return { stream, media };
  }

  /**
   * Asks the sender's phone to upload a received file again (Baileys' media-retry request over the
   * session's socket), and keeps where it now is.
   */
  private async reuploaded(
    sessionId: string,
    id: string,
    chat: string,
    download: MediaDownload,
  ): Promise<MediaDownload> {
    const key = { remoteJid: chat, fromMe: false, id };
    const message = {
      [`${download.type}Message`]: {
        mediaKey: Buffer.from(download.mediaKey, 'base64'),
        directPath: download.directPath,
        url: download.url,
      },
    };
    const updated = await this.onSocket(sessionId, (sock) => sock.updateMediaMessage({ key, message }));
    const fresh = Object.values(updated.message ?? {})[0] as
      | { directPath?: string; url?: string }
      | undefined;
    if (!fresh?.directPath) throw new Error('the re-upload named no file');
    const moved: MediaDownload = { ...download, directPath: fresh.directPath, url: fresh.url ?? undefined };
    await keepDownload(this.deps.db, sessionId, id, moved);
    return moved;
  }

  /** Runs `run` on the session's open socket; a session that is not connected is refused as a send is. */
  private async onSocket<T>(sessionId: string, run: (sock: WASocket) => Promise<T>): Promise<T> {
    const result = await callSocket(await this.actor(sessionId), run);
    if (result.ok) return result.value as T;
    if (result.error === 'not-connected') throw new ApiError('SESSION_NOT_AUTHENTICATED');
    if (result.error === 'reconnecting') throw new ApiError('SESSION_RECONNECTING');
    throw new ApiError('INTERNAL_ERROR', { cause: result.cause });
  }

  /**
   * Read receipts for received messages of a chat: those named (each must be one), or the chat's latest
   * (WhatsApp shows a chat read once its newest message is). The ids marked.
   */
  async readChat(sessionId: string, chat: string, messageIds?: string[]): Promise<string[]> {
    const rows = await this.deps.db
      .selectFrom('messages')
      .select(['id', 'chat_jid'])
      .where('session_id', '=', sessionId)
      .where('direction', '=', 'in')
      .where((eb) => eb.or([eb('chat_jid', '=', chat), eb('chat_lid', '=', chat)]))
      .$if(messageIds !== undefined, (qb) => qb.where('id', 'in', messageIds ?? []))
      .orderBy('sent_at', 'desc')
      .limit(MAX_READ_IDS)
      .execute();
    const unknown = (messageIds ?? []).filter((id) => !rows.some((r) => r.id === id));
    if (unknown.length > 0) throw new ApiError('MESSAGE_NOT_FOUND', { details: { unknown } });
    if (rows.length === 0) return [];
    await this.onSocket(sessionId, (sock) =>
      sock.readMessages(rows.map((r) => ({ remoteJid: r.chat_jid, id: r.id, fromMe: false }))),
    );
    return rows.map((r) => r.id);
  }

  /** Shows "typing…" or "recording audio…" in a chat, or stops it. */
  async presence(sessionId: string, chat: string, state: (typeof PRESENCE_STATES)[number]): Promise<void> {
    await this.onSocket(sessionId, (sock) =>
      sock.sendPresenceUpdate(state === 'typing' ? 'composing' : state, chat),
    );
  }

  /** Which of these phone-number JIDs are on WhatsApp (answers remembered a while, across sessions). */
  async checkNumbers(sessionId: string, jids: string[]) {
    return this.onSocket(sessionId, (sock) => checkNumbers(sock, jids));
  }

  /**
   * Messages were queued for the session (PostgreSQL says so on commit): its outbox looks now, if the
   * session runs here. One that starts later looks when it starts.
   */
  outboxQueued(sessionId: string): void {
    this.outboxes.get(sessionId)?.wake();
  }

  /**
   * `/api/send`: the queued message goes now or not at all. A session that is not connected fails it at
   * once (nothing is sent later); otherwise it waits its turn in the outbox (pacing) and this resolves
   * with the server's ack, a failure, or `busy` when its turn does not come within `waitMs` (then it is
   * cancelled if it has not been handed over yet; if it has, it counts as sent).
   */
  async sendQueued(
    sessionId: string,
    id: string,
    { fresh = false, waitMs = SEND_WAIT_MS }: { fresh?: boolean | undefined; waitMs?: number } = {},
  ): Promise<QueuedSend> {
    const actor = await this.actor(sessionId);
    const journal = this.journal(sessionId);
    const outbox = this.outboxes.get(sessionId);
    // Queued by the very request that asks (the edge says so): queued, never handed over, no need to read
    // it back. A retried request's message may have moved on: read.
    const found =
      fresh && isConnected(actor.getSnapshot())
        ? { id, status: 'queued' as const, failure: null, attempts: 0 }
        : await messageOf(this.deps.db, sessionId, id);
    if (!found || !outbox) return { ok: false, error: 'not-found' };
    if (found.status !== 'queued') return settledSend(found);
    const snapshot = actor.getSnapshot();
    if (!isConnected(snapshot)) {
      const linked = snapshot.context.user !== null;
      // Handed over before (the host died mid-send): it may have arrived, so it is never failed here;
      // the outbox resends it under the same id once the session is back.
      if (found.attempts > 0) return { ok: false, error: linked ? 'reconnecting' : 'not-connected' };
      // Only if the outbox has not handed it over meanwhile (`found` may be what the edge assumed).
      await journal.cancelIfUnsent(
        id,
        linked ? SEND_FAILURES.reconnecting : SEND_FAILURES.notLinked,
        'failed',
      );
      return { ok: false, error: linked ? 'reconnecting' : 'not-connected' };
    }
    const outcome = await outbox.outcome(id, waitMs);
    // The session stopped here meanwhile (handed to another host, or this host lost its lease): the
    // message waits in the outbox of whichever host runs it next.
    if (!outcome && this.outboxes.get(sessionId) !== outbox) {
      throw this.open
        ? new ApiError('SESSION_MOVED')
        : new ApiError('HOST_UNAVAILABLE', { retryAfterSeconds: 1 });
    }
    // Told how it ended: no need to read the row again (its chat and text do not change).
    if (outcome) return settledSend({ ...found, ...outcome, attempts: found.attempts + 1 });
    await journal.cancelIfUnsent(id, SEND_FAILURES.busy);
    const now = await messageOf(this.deps.db, sessionId, id);
    return now ? settledSend(now) : { ok: false, error: 'not-found' };
  }

  /** Unlinks the device and wipes the auth state; resolves when the session rests logged out. */
  async logout(sessionId: string): Promise<SessionView> {
    const actor = await this.actor(sessionId);
    actor.send({ type: 'LOGOUT' });
    await waitFor(actor, (s) => ['logged-out', 'failed'].includes(publicState(s)), { timeout: 20_000 }).catch(
      () => undefined,
    );
    return viewOf(actor);
  }

  /**
   * On start, once the host holds its lease: takes the lease of every session assigned to it and brings
   * each up, so linked ones resume with no new QR and resting ones show their state. Returns how many
   * are reconnecting.
   */
  async resumeOwned(): Promise<number> {
    const ids = [...(await ownedLeases(this.deps.db, this.deps.hostId)).keys()];
    const started = await this.startStaggered(ids);
    // The table shows where each session now is before anyone can ask.
    await Promise.all(ids.map((id) => this.journals.get(id)?.settled()));
    return started;
  }

  /**
   * Starts sessions assigned here, each through `actor` (which takes its lease, once however many ask),
   * RESUME_STAGGER_MS apart, so a host taking many does not reconnect them all at once; a start does not
   * wait for the one before it to be loaded. Resolves with how many linked ones it started.
   */
  private startStaggered(ids: readonly string[]): Promise<number> {
    const run = this.starting.then(async () => {
      const starts: Promise<boolean>[] = [];
      for (const id of ids) {
        if (!this.open) break;
        if (this.actors.has(id) || this.loading.has(id) || this.handing.has(id)) continue;
        if (starts.length > 0) await new Promise((resolve) => setTimeout(resolve, RESUME_STAGGER_MS));
        starts.push(
          this.actor(id).then(
            (actor) => actor.getSnapshot().context.user !== null,
            (err: unknown) => {
              if (!(err instanceof ApiError))
                this.deps.logger.warn({ err, sessionId: id }, 'starting a session failed');
              return false;
            },
          ),
        );
      }
      return (await Promise.all(starts)).filter(Boolean).length;
    });
    this.starting = run.catch(() => undefined);
    return run;
  }

  /**
   * After each renewal of the host's lease, what the database says this host owns: a session running
   * here that is no longer assigned to it (or under a newer epoch: it was claimed meanwhile) stops at
   * once; one assigned here and not running (placed, handed over by a draining host, claimed) starts.
   * Leases taken after `beat.since` are newer than what the beat read, and are left alone.
   */
  async reconcile(beat: Beat): Promise<void> {
    for (const [id, lease] of this.leases) {
      if (lease.at >= beat.since) continue;
      const epoch = beat.owned.get(id);
      if (epoch === undefined) this.forget(id, 'assigned to another host');
      else if (BigInt(epoch) > BigInt(lease.epoch)) this.forget(id, 'its lease was taken again');
    }
    // A draining host starts nothing new: what is assigned here is handed on.
    if (!this.open || beat.draining) return;
    const waiting = [...beat.owned.keys()].filter(
      (id) => !this.leases.has(id) && !this.loading.has(id) && !this.handing.has(id),
    );
    if (waiting.length === 0) return;
    await this.startStaggered(waiting);
  }

  /** Takes a session out of this host's maps (no state change is mirrored after); its outbox to stop. */
  private detach(sessionId: string) {
    this.unsubscribe.get(sessionId)?.();
    this.unsubscribe.delete(sessionId);
    this.actors.delete(sessionId);
    const outbox = this.outboxes.get(sessionId);
    this.outboxes.delete(sessionId);
    return { outbox };
  }

  /**
   * Stops a session here without logging it out and without another write (another host owns it now,
   * or this host can no longer prove it does): its socket ends at once.
   */
  forget(sessionId: string, why: string): void {
    const actor = this.actors.get(sessionId);
    this.leases.delete(sessionId); // from here on every write for it is refused without asking
    // A later run here opens its own store, fenced by its own epoch (see fenceOfRun).
    this.stores.delete(sessionId);
    if (!actor) return;
    this.deps.logger.warn({ sessionId, why }, 'session stopped here: it no longer holds the lease');
    const { outbox } = this.detach(sessionId);
    void outbox?.stop();
    this.journals.get(sessionId)?.abandon();
    this.journals.delete(sessionId);
    actor.send({ type: 'STOP' });
    actor.stop();
  }

  /**
   * Failover: takes this host's share of the sessions of hosts whose lease lapsed, and starts them a few
   * at a time (linked ones reconnect with no QR). The ids taken.
   */
  takeOrphans(): Promise<string[]> {
    // One claim at a time: two at once would each take a full share.
    const run = this.claiming.then(async () => {
      if (!this.open) return [];
      const ids = await claimOrphans(this.deps.db, this.deps.hostId);
      if (ids.length === 0) return [];
      this.deps.logger.info({ count: ids.length }, 'taking over the sessions of a host that stopped');
      await this.startStaggered(ids);
      return ids;
    });
    this.claiming = run.catch(() => undefined);
    return run;
  }

  /**
   * Draining: hands the sessions assigned here to other hosts, one at a time, each stopped here first
   * (its last writes committed) and started there at once. Stops early when `keepGoing` turns false (the
   * operator undrained) or no other host has room; resolves with how many are left here.
   */
  async handOffAll(owned: ReadonlyMap<string, string>, keepGoing: () => boolean): Promise<number> {
    const ids = [...new Set([...owned.keys(), ...this.leases.keys()])];
    let left = ids.length;
    for (const id of ids) {
      if (!keepGoing()) break;
      const target = await leastLoadedLiveHost(this.deps.db, this.deps.hostId);
      if (!target) {
        this.deps.logger.warn({ left }, 'draining: no other live host has room; the rest stay here');
        break;
      }
      const handing = (async () => {
        const epoch = (await this.release(id)) ?? owned.get(id);
        if (epoch === undefined) return false;
        return handOver(this.deps.db, { id, from: this.deps.hostId, epoch }, target.id);
      })();
      this.handing.set(id, handing);
      const moved = await handing.finally(() => this.handing.delete(id));
      if (moved) {
        left--;
        this.deps.logger.info({ sessionId: id, to: target.id }, 'session handed over');
      }
    }
    return left;
  }

  /**
   * Stops a session here for another host to take: its socket ends (no logout) and its last writes are
   * committed first; no state change is mirrored (it carries on elsewhere). The epoch it was held under,
   * or undefined when it was not running here.
   */
  private async release(sessionId: string): Promise<string | undefined> {
    await this.loading.get(sessionId)?.catch(() => undefined);
    const lease = this.leases.get(sessionId);
    const actor = this.actors.get(sessionId);
    if (!lease || !actor) return undefined;
    const { outbox } = this.detach(sessionId);
    await outbox?.stop();
    actor.send({ type: 'STOP' });
    actor.stop();
    await Promise.all(this.ending);
    await this.stores
      .get(sessionId)
      ?.then((s) => s.settled())
      .catch(() => undefined);
    await this.journals.get(sessionId)?.settled();
    // What the ended socket still tries to write is refused, here or in a later run of the session.
    this.journals.get(sessionId)?.abandon();
    this.journals.delete(sessionId);
    this.stores.delete(sessionId);
    this.leases.delete(sessionId);
    return lease.epoch;
  }

  /** The host's lease is about to lapse unrenewed: every session stops here before anyone can claim it. */
  fenceAll(): void {
    for (const id of [...this.actors.keys()]) this.forget(id, 'the host could not renew its lease');
  }

  /**
   * Every few seconds, wakes the outboxes of this host's sessions that have queued messages: a message
   * queued while no one could wake its outbox (the host was restarting) is not left waiting.
   */
  watchOutboxes(everyMs = OUTBOX_POLL_MS) {
    this.poller = setInterval(() => {
      sessionsWithQueued(this.deps.db, [...this.outboxes.keys()]).then(
        (ids) => {
          for (const id of ids) this.outboxes.get(id)?.nudge();
        },
        (err: unknown) => this.deps.logger.warn({ err }, 'looking for queued messages failed'),
      );
    }, everyMs);
    this.poller.unref();
  }

  /**
   * Host shutdown: ends every socket without logging anyone out, then waits for the sockets to close
   * and for their last auth-state writes, so nothing touches the database after this resolves.
   */
  async stopAll(): Promise<void> {
    this.stopping = true;
    clearInterval(this.poller);
    await Promise.all([...this.outboxes.values()].map((outbox) => outbox.stop()));
    for (const actor of this.actors.values()) actor.send({ type: 'STOP' });
    for (const actor of this.actors.values()) actor.stop();
    this.actors.clear();
    // Ending sockets may still queue writes (a last creds update): settle until nothing new comes in.
    for (let round = 0; round < 5; round++) {
      await Promise.all(this.ending);
      for (const store of this.stores.values()) await store.then((s) => s.settled()).catch(() => undefined);
      await new Promise((resolve) => setTimeout(resolve, 20));
      if (this.ending.size === 0) break;
    }
    // The last state changes and messages: written unless the database stays away past the bound.
    const journals = [...this.journals.values()];
    const written = Promise.all(journals.map((j) => j.settled()));
    const bound = new Promise((resolve) => setTimeout(resolve, JOURNAL_DRAIN_MS).unref());
    await Promise.race([written, bound]);
    for (const journal of journals) journal.close();
    await Promise.all([this.fetcher?.close(), this.downloader?.close()]);
  }
}

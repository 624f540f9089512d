import type { Kysely } from 'kysely';
import type { Logger } from 'pino';
import { createActor, fromPromise, waitFor } from 'xstate';
import type { Database } from '../../shared/db-schema.js';
import { ApiError } from '../../shared/errors.js';
import {
  isConnected,
  type PublicState,
  publicState,
  type SendResult,
  type SessionActorRef,
  type SessionSnapshot,
  sendText,
  sessionMachine,
  type WipeAuthInput,
} from '../session/machine.js';
import { type AuthStore, createAuthStore } from '../wa/auth-store.js';
import { makeSocketActor, type WaConnection } from '../wa/socket-actor.js';

/** States in which a session rests until someone asks for a QR (or logs it in again). */
const RESTING: readonly PublicState[] = ['idle', 'logged-out', 'qr-expired', 'replaced', 'failed'];

export type SessionView = {
  state: PublicState;
  connected: boolean;
  qr: string | null;
  user?: { id: string; name: string | null };
};

/**
 * The sessions one host runs: one session actor each, its auth state in Postgres, its state mirrored
 * to the sessions table. Everything here is keyed by sessions.id.
 */
export class SessionHost {
  private readonly actors = new Map<string, SessionActorRef>();
  private readonly stores = new Map<string, Promise<AuthStore>>();
  /** Socket endings and state writes still in flight; stopAll waits for them. */
  private readonly ending = new Set<Promise<void>>();
  private stopping = false;
  private readonly machine;

  constructor(
    private readonly deps: { db: Kysely<Database>; hostId: string; wa: WaConnection; logger: Logger },
  ) {
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
        }),
        wipeAuth: fromPromise<void, WipeAuthInput>(async ({ input }) => {
          await (await this.store(input.sessionId)).clear();
        }),
      },
    });
  }

  get size() {
    return this.actors.size;
  }

  private store(sessionId: string) {
    let store = this.stores.get(sessionId);
    if (!store) {
      store = createAuthStore(this.deps.db, sessionId);
      store.catch(() => this.stores.delete(sessionId));
      this.stores.set(sessionId, store);
    }
    return store;
  }

  /** The session's actor, created (idle) on first use; none once the host is shutting down. */
  actor(sessionId: string): SessionActorRef {
    const existing = this.actors.get(sessionId);
    if (existing) return existing;
    if (this.stopping) throw new ApiError('HOST_UNAVAILABLE', { retryAfterSeconds: 5 });
    const actor = createActor(this.machine, { input: { sessionId } });
    let mirrored: string | undefined;
    actor.subscribe({
      next: (snapshot) => {
        const row = this.rowOf(snapshot);
        const key = JSON.stringify(row);
        if (key === mirrored) return;
        mirrored = key;
        this.mirror(sessionId, row);
      },
      error: (err) => this.deps.logger.error({ err, sessionId }, 'session actor failed'),
    });
    actor.start();
    this.actors.set(sessionId, actor);
    return actor;
  }

  private rowOf(snapshot: SessionSnapshot) {
    const user = snapshot.context.user;
    return { state: publicState(snapshot), account_jid: user?.id ?? null, account_name: user?.name ?? null };
  }

  /** Writes the actor's state to the sessions table, only while this host owns the session. */
  private mirror(sessionId: string, row: ReturnType<SessionHost['rowOf']>) {
    this.deps.logger.info({ sessionId, state: row.state }, 'session state');
    const write = this.deps.db
      .updateTable('sessions')
      .set(row)
      .where('id', '=', sessionId)
      .where('host_id', '=', this.deps.hostId)
      .execute()
      .then(
        () => undefined,
        (err: unknown) => this.deps.logger.error({ err, sessionId }, 'mirroring session state failed'),
      )
      .finally(() => this.ending.delete(write));
    this.ending.add(write);
  }

  /** Starts connecting if the session rests idle (a new session shows its first QR). */
  start(sessionId: string): SessionView {
    const actor = this.actor(sessionId);
    if (publicState(actor.getSnapshot()) === 'idle') actor.send({ type: 'START' });
    return this.view(sessionId);
  }

  view(sessionId: string): SessionView {
    const snapshot = this.actor(sessionId).getSnapshot();
    const user = snapshot.context.user;
    const connected = isConnected(snapshot);
    return {
      state: publicState(snapshot),
      connected,
      qr: snapshot.context.qr,
      ...(user && connected ? { user } : {}),
    };
  }

  /**
   * The QR to show: from a resting state this starts a new pairing, then waits up to `waitMs` for the
   * QR (or for the stored credentials to log straight in).
   */
  async qr(sessionId: string, waitMs = 5_000): Promise<SessionView> {
    const actor = this.actor(sessionId);
    const state = publicState(actor.getSnapshot());
    if (RESTING.includes(state)) actor.send({ type: state === 'idle' ? 'START' : 'REQUEST_QR' });
    await waitFor(actor, (s) => s.context.qr !== null || isConnected(s) || RESTING.includes(publicState(s)), {
      timeout: waitMs,
    }).catch(() => undefined);
    return this.view(sessionId);
  }

  send(sessionId: string, to: string, text: string): Promise<SendResult> {
    return sendText(this.actor(sessionId), to, text);
  }

  /** Unlinks the device and wipes the auth state; resolves when the session rests logged out. */
  async logout(sessionId: string): Promise<SessionView> {
    const actor = this.actor(sessionId);
    actor.send({ type: 'LOGOUT' });
    await waitFor(actor, (s) => ['logged-out', 'failed'].includes(publicState(s)), { timeout: 20_000 }).catch(
      () => undefined,
    );
    return this.view(sessionId);
  }

  /** On start: resumes the linked sessions this host owns, with no new QR. */
  async resumeOwned(): Promise<number> {
    const rows = await this.deps.db
      .selectFrom('sessions')
      .innerJoin('wa_creds', 'wa_creds.session_id', 'sessions.id')
      .select('sessions.id')
      .where('sessions.host_id', '=', this.deps.hostId)
      .where('sessions.account_jid', 'is not', null)
      .where('sessions.state', 'not in', ['logged-out', 'replaced'])
      .execute();
    for (const { id } of rows) this.start(id);
    return rows.length;
  }

  /**
   * Host shutdown: ends every socket without logging anyone out, then waits for the sockets to close
   * and for their last auth-state writes, so nothing touches the database after this resolves.
   */
  async stopAll(): Promise<void> {
    this.stopping = true;
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
  }
}

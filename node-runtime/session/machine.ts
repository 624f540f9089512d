/**
 * One session's life, as an XState v5 machine, with no Postgres, HTTP or Baileys runtime code in it.
 *
 * Three actors do the work and are swapped with `sessionMachine.provide({ actors })`:
 * - `socket`: the Baileys socket, one callback actor. It sends back QR / OPEN / CLOSE, takes SEND and
 *   UNLINK commands, and its cleanup ends the socket without logging out (that would unlink the device).
 * - `logout`: asks the live socket to unlink this device from the account (default: `logoutViaSocket`).
 * - `wipeAuth`: deletes the stored creds and Signal keys, so the next connect pairs from scratch.
 *
 * Chart (see `publicState` for the names a host mirrors):
 *
 *   (restoring) --input.restore--> active (a linked session resumes) | a resting state | idle
 *   idle --START|REQUEST_QR--> active.connecting --QR--> active.awaiting-qr --OPEN--> active.connected
 *   active --CLOSE--> by classifyDisconnect:
 *     restart (515)        -> active re-entered at once (new socket); MAX_IMMEDIATE_RESTARTS in a row
 *     transient            -> reconnecting --after reconnectDelay--> active
 *     logged-out (401)     -> wiping -> logged-out
 *     replaced (440)       -> replaced   (no reconnect until REQUEST_QR)
 *     qr-expired (408 QR)  -> qr-expired (no reconnect until REQUEST_QR)
 *     other permanent      -> failed
 *   active --socket actor throws--> reconnecting (lastError 'socket-crashed')
 *   active --LOGOUT--> active.logging-out --logout done/failed/timed out--> wiping --> logged-out
 *   reconnecting|idle|replaced|qr-expired|failed --LOGOUT--> wiping;  wiping --error--> failed
 *   logged-out|replaced|qr-expired|failed --REQUEST_QR--> active
 *   active|reconnecting --STOP--> idle (socket ended, device stays linked)
 */
import type { WAMessage, WASocket } from '@whiskeysockets/baileys';
import {
  type ActorRef,
  type ActorRefFrom,
  assertEvent,
  assign,
  type CallbackActorLogic,
  fromCallback,
  fromPromise,
  type SnapshotFrom,
  sendTo,
  setup,
} from 'xstate';
import type { SessionState } from '../../shared/schemas.js';
import type { Outgoing } from '../wa/outgoing.js';
import { backoffDelay } from './backoff.js';
import { type CloseDetails, classifyDisconnect } from './disconnect.js';

/** The linked WhatsApp account, as Baileys reports it on open (`sock.user`). */
export interface SessionUser {
  /** `<digits>[:device]@s.whatsapp.net` */
  id: string;
  name: string | null;
}

/** A state a session can be restored into when its actor is created (from the sessions table). */
export type RestoredState = 'connecting' | 'replaced' | 'qr-expired' | 'failed' | 'logged-out';

export interface SessionInput {
  sessionId: string;
  /** The linked account as last stored; kept while reconnecting, cleared by a wipe. */
  user?: SessionUser | null;
  /**
   * Where a new actor starts: `connecting` resumes a linked session at once (no QR), a resting state
   * stays put until someone asks. Unset: idle, as a session that was never started.
   */
  restore?: RestoredState;
}

/** Why the session last left `connected` or failed to get there; null while connected. */
export interface SessionError {
  /** A `Disconnect` reason, or one of 'socket-crashed', 'logout-failed', 'logout-timeout', 'wipe-failed'. */
  reason: string;
  statusCode: number | undefined;
  message: string;
}

export interface SessionContext {
  sessionId: string;
  /** The latest raw QR text while awaiting a scan, else null. */
  qr: string | null;
  /** Kept across reconnects (it is still the linked account); cleared when the auth state is wiped. */
  user: SessionUser | null;
  /** Consecutive closes without an OPEN; drives the backoff. */
  attempts: number;
  /** Consecutive 515 restarts without an OPEN; bounds the reconnect-at-once path. */
  restarts: number;
  lastError: SessionError | null;
  /** Where the actor was restored into at creation; read once, by the initial state. */
  restore: RestoredState | null;
}

// ---- socket actor contract -------------------------------------------------------------------------

/** What the socket actor gets when it is started; one start is one Baileys socket. */
export interface SocketInput {
  sessionId: string;
  /** 0 on a first connect or a restart, else the number of the reconnect attempt (for logs). */
  attempt: number;
}

/** Events the socket actor sends back to the machine (`sendBack`). */
export type SocketEvent =
  /** `connection.update` with `qr`: a new QR to show (raw text, not an image). */
  | { type: 'QR'; qr: string }
  /** `connection.update` with `connection: 'open'`. */
  | { type: 'OPEN'; user: SessionUser }
  /** `connection.update` with `connection: 'close'`; use `closeDetailsOf(lastDisconnect?.error)`. */
  | ({ type: 'CLOSE' } & CloseDetails);

/**
 * Why a send did not happen. `reconnecting`: the session is linked but its socket is not open right now
 * (resuming, backing off, or it closed under the send); retrying shortly can succeed. `not-connected`:
 * nothing is linked (or another client holds the account), so only a person can fix it.
 */
export type SendFailure = 'not-connected' | 'reconnecting' | 'not-on-whatsapp' | 'send-failed' | 'timeout';

/** The answer to a SEND: Baileys' WAMessage (its `key` is what the API returns), or why not. */
export type SendResult =
  | { ok: true; message: WAMessage }
  | { ok: false; error: SendFailure; cause?: unknown };

/**
 * A request to send a text, carrying its own reply callback. The machine forwards it unchanged to the
 * socket actor while connected and answers 'not-connected' itself in every other state. The socket actor
 * must call `reply` exactly once, including when the socket closes under an in-flight send.
 */
export interface SendCommand {
  type: 'SEND';
  /** The WhatsApp id the message carries: fixed when it was queued, the same on a resend. */
  id: string;
  /** A full JID; normalising phone numbers is the HTTP layer's job. */
  to: string;
  text: string;
  /** Anything but a plain text: what to send (a file, a location, a reply...). */
  outgoing?: Outgoing;
  reply: (result: SendResult) => void;
}

/** Asks the socket actor to call Baileys' `logout()`: unlink this companion device from the account. */
export interface UnlinkCommand {
  type: 'UNLINK';
  reply: (result: { ok: true } | { ok: false; cause: unknown }) => void;
}

/** Commands the socket actor receives (`receive`). */
/** Shows "typing…" to a chat, or stops it; best effort, while connected only. */
export interface PresenceCommand {
  type: 'PRESENCE';
  to: string;
  typing: boolean;
}

/**
 * Runs something else on the open socket (read marks, presence, number checks) and replies with what
 * it resolved to; while not connected, replies as a SEND would.
 */
export interface CallCommand {
  type: 'CALL';
  run: (sock: WASocket) => Promise<unknown>;
  /** Part of linking (a pairing code): runs on the socket showing a QR, and only there. */
  linking?: boolean;
  reply: (
    result:
      | { ok: true; value: unknown }
      | { ok: false; error: 'not-connected' | 'reconnecting' | 'failed'; cause?: unknown },
  ) => void;
}

export type SocketCommand = SendCommand | UnlinkCommand | PresenceCommand | CallCommand;

export type SocketActorLogic = CallbackActorLogic<SocketCommand, SocketInput>;
export type SocketActorRef = ActorRef<ReturnType<SocketActorLogic['getInitialSnapshot']>, SocketCommand>;

/**
 * Builds a socket actor with `sendBack` typed to the events the machine understands. The cleanup it
 * returns is required: it must end the Baileys socket (`sock.end(undefined)`, never `logout()`).
 */
export function defineSocketActor(
  impl: (args: {
    input: SocketInput;
    sendBack: (event: SocketEvent) => void;
    receive: (listener: (command: SocketCommand) => void) => void;
  }) => () => void,
): SocketActorLogic {
  return fromCallback<SocketCommand, SocketInput>(({ input, sendBack, receive }) =>
    impl({ input, sendBack, receive }),
  );
}

// ---- one-shot actors -------------------------------------------------------------------------------

export interface LogoutInput {
  sessionId: string;
  /** The live socket actor, if there is one. */
  socket: SocketActorRef | undefined;
}

/**
 * The default logout: the socket actor owns the Baileys socket, so it is asked to unlink. No timer here:
 * the machine's `logoutTimeout` bounds the wait (a stopped socket actor drops the command silently).
 */
export const logoutViaSocket = fromPromise<void, LogoutInput>(
  ({ input }) =>
    new Promise<void>((resolve, reject) => {
      const { socket } = input;
      if (socket === undefined) {
        resolve();
        return;
      }
      socket.send({ type: 'UNLINK', reply: (result) => (result.ok ? resolve() : reject(result.cause)) });
    }),
);

export interface WipeAuthInput {
  sessionId: string;
}

const notProvided = (name: string, where: string) =>
  new Error(
    `session actor "${name}" not provided: pass it with sessionMachine.provide({ actors }) (${where})`,
  );

const socketPlaceholder = defineSocketActor(() => {
  throw notProvided('socket', 'node-runtime/wa/');
});

const wipeAuthPlaceholder = fromPromise<void, WipeAuthInput>(async () => {
  throw notProvided('wipeAuth', 'the Postgres auth store');
});

// ---- the machine -----------------------------------------------------------------------------------

export type HostEvent =
  /** Begin connecting with whatever auth is stored (a host starting or resuming the session). */
  | { type: 'START' }
  /** Host shutdown: end the socket, keep the device linked, go idle. */
  | { type: 'STOP' }
  /** Unlink the device (best effort) and wipe the stored auth state. */
  | { type: 'LOGOUT' }
  /** Someone wants a QR: connect again from a resting state. */
  | { type: 'REQUEST_QR' };

export type SessionEvent = HostEvent | SendCommand | CallCommand | PresenceCommand | SocketEvent;

/**
 * 515 right after pairing is normal, and a reconnect at once is what WhatsApp expects. A server that
 * answers every connect with 515 must not get a tight loop, though: past this many in a row, 515 backs
 * off like any transient close.
 */
export const MAX_IMMEDIATE_RESTARTS = 3;

/** How long to wait for the socket to unlink before wiping local state anyway. */
export const LOGOUT_TIMEOUT_MS = 10_000;

type CloseOutcome = 'restart' | 'reconnect' | 'logged-out' | 'replaced' | 'qr-expired' | 'failed';

function closeOutcome(context: SessionContext, close: CloseDetails): CloseOutcome {
  const d = classifyDisconnect(close);
  switch (d.kind) {
    case 'restart':
      return context.restarts < MAX_IMMEDIATE_RESTARTS ? 'restart' : 'reconnect';
    case 'transient':
      return 'reconnect';
    case 'permanent':
      switch (d.reason) {
        case 'logged-out':
        case 'replaced':
        case 'qr-expired':
          return d.reason;
        default:
          return 'failed';
      }
  }
}

function errorOf(reason: string, error: unknown): SessionError {
  return { reason, statusCode: undefined, message: error instanceof Error ? error.message : String(error) };
}

/**
 * A send while no socket is open: a linked session is on its way back (connecting, backing off, or
 * stopped by a host that is shutting down), so the caller should retry shortly; anything else needs a
 * person (scan a QR).
 */
const SEND_WHILE_RESUMING = [
  { guard: 'isLinked', actions: 'replyReconnecting' },
  { actions: 'replyNotConnected' },
] as const;

export const sessionMachine = setup({
  types: {
    context: {} as SessionContext,
    events: {} as SessionEvent,
    input: {} as SessionInput,
    children: {} as { socket: 'socket'; logout: 'logout'; wipeAuth: 'wipeAuth' },
  },
  actors: {
    socket: socketPlaceholder,
    logout: logoutViaSocket,
    wipeAuth: wipeAuthPlaceholder,
  },
  delays: {
    reconnectDelay: ({ context }) => backoffDelay(context.attempts),
    logoutTimeout: LOGOUT_TIMEOUT_MS,
  },
  guards: {
    // Typed by hand: XState cannot infer the arguments of a guard whose params are annotated.
    closesAs: (
      { context, event }: { context: SessionContext; event: SessionEvent },
      params: { outcome: CloseOutcome },
    ) => event.type === 'CLOSE' && closeOutcome(context, event) === params.outcome,
    restoresTo: ({ context }: { context: SessionContext }, params: { state: RestoredState }) =>
      context.restore === params.state,
    isLinked: ({ context }) => context.user !== null,
    isLinkingCall: ({ event }) => event.type === 'CALL' && event.linking === true,
  },
  actions: {
    assignQr: assign({
      qr: ({ event }) => {
        assertEvent(event, 'QR');
        return event.qr;
      },
    }),
    clearQr: assign({ qr: null }),
    assignOpen: assign(({ event }) => {
      assertEvent(event, 'OPEN');
      return { user: event.user, qr: null, attempts: 0, restarts: 0, lastError: null };
    }),
    noteClose: assign({
      qr: null,
      lastError: ({ event }) => {
        assertEvent(event, 'CLOSE');
        const { reason } = classifyDisconnect(event);
        return { reason, statusCode: event.statusCode, message: event.message };
      },
    }),
    countAttempt: assign({ attempts: ({ context }) => context.attempts + 1 }),
    countRestart: assign({ restarts: ({ context }) => context.restarts + 1 }),
    restartAttempts: assign({ attempts: 0, restarts: 0 }),
    forwardPresence: sendTo('socket', ({ event }) => {
      assertEvent(event, 'PRESENCE');
      return event;
    }),
    forwardToSocket: sendTo('socket', ({ event }) => {
      assertEvent(event, ['SEND', 'CALL']);
      return event;
    }),
    replyNotConnected: ({ event }) => {
      if (event.type === 'SEND' || event.type === 'CALL') event.reply({ ok: false, error: 'not-connected' });
    },
    replyReconnecting: ({ event }) => {
      if (event.type === 'SEND' || event.type === 'CALL') event.reply({ ok: false, error: 'reconnecting' });
    },
  },
}).createMachine({
  id: 'session',
  context: ({ input }) => ({
    sessionId: input.sessionId,
    qr: null,
    attempts: 0,
    restarts: 0,
    lastError: null,
    user: input.user ?? null,
    restore: input.restore ?? null,
  }),
  initial: 'restoring',
  // Sends are only forwarded from `connected`; everywhere else they are answered here, at once, so a
  // caller never waits on a socket that is not there.
  on: { SEND: { actions: 'replyNotConnected' }, CALL: { actions: 'replyNotConnected' } },
  states: {
    // Transient: a new actor goes where the stored session was. Never observed from outside.
    restoring: {
      always: [
        { guard: { type: 'restoresTo', params: { state: 'connecting' } }, target: 'active' },
        { guard: { type: 'restoresTo', params: { state: 'replaced' } }, target: 'replaced' },
        { guard: { type: 'restoresTo', params: { state: 'qr-expired' } }, target: 'qr-expired' },
        { guard: { type: 'restoresTo', params: { state: 'failed' } }, target: 'failed' },
        { guard: { type: 'restoresTo', params: { state: 'logged-out' } }, target: 'logged-out' },
        { target: 'idle' },
      ],
    },
    idle: {
      on: {
        SEND: SEND_WHILE_RESUMING,
        CALL: SEND_WHILE_RESUMING,
        START: { target: 'active', actions: 'restartAttempts' },
        REQUEST_QR: { target: 'active', actions: 'restartAttempts' },
        LOGOUT: 'wiping',
      },
    },
    // Everything with a live socket. One invoke for all children: the QR scan, the 515 after pairing and
    // the open all happen on sockets this state owns, and leaving it (STOP, a permanent close) ends it.
    active: {
      invoke: {
        id: 'socket',
        src: 'socket',
        input: ({ context }) => ({ sessionId: context.sessionId, attempt: context.attempts }),
        // A socket actor that throws is a bug or a failed dependency (say, the auth store); backing off
        // and retrying heals the second kind, and lastError shows the first.
        onError: {
          target: 'reconnecting',
          actions: [
            assign({ qr: null, lastError: ({ event }) => errorOf('socket-crashed', event.error) }),
            'countAttempt',
          ],
        },
      },
      initial: 'connecting',
      on: {
        STOP: 'idle',
        LOGOUT: '.logging-out',
        CLOSE: [
          {
            guard: { type: 'closesAs', params: { outcome: 'restart' } },
            target: 'active',
            reenter: true,
            actions: ['noteClose', 'countRestart'],
          },
          {
            guard: { type: 'closesAs', params: { outcome: 'reconnect' } },
            target: 'reconnecting',
            actions: ['noteClose', 'countAttempt'],
          },
          {
            guard: { type: 'closesAs', params: { outcome: 'logged-out' } },
            target: 'wiping',
            actions: 'noteClose',
          },
          {
            guard: { type: 'closesAs', params: { outcome: 'replaced' } },
            target: 'replaced',
            actions: 'noteClose',
          },
          {
            guard: { type: 'closesAs', params: { outcome: 'qr-expired' } },
            target: 'qr-expired',
            actions: 'noteClose',
          },
          { target: 'failed', actions: 'noteClose' },
        ],
      },
      states: {
        connecting: {
          on: {
            SEND: SEND_WHILE_RESUMING,
            CALL: SEND_WHILE_RESUMING,
            QR: { target: 'awaiting-qr', actions: 'assignQr' },
            OPEN: { target: 'connected', actions: 'assignOpen' },
          },
        },
        'awaiting-qr': {
          // However it is left (OPEN, CLOSE, STOP, LOGOUT), the code shown is dead: never serve it again.
          exit: 'clearQr',
          on: {
            // Baileys rotates the QR every 20 s (60 s for the first) on the same socket.
            QR: { actions: 'assignQr' },
            CALL: [{ guard: 'isLinkingCall', actions: 'forwardToSocket' }, { actions: 'replyNotConnected' }],
            OPEN: { target: 'connected', actions: 'assignOpen' },
          },
        },
        connected: {
          on: {
            SEND: { actions: 'forwardToSocket' },
            CALL: { actions: 'forwardToSocket' },
            PRESENCE: { actions: 'forwardPresence' },
          },
        },
        // Still inside `active` so the socket that must carry the unlink request stays up.
        'logging-out': {
          invoke: {
            id: 'logout',
            src: 'logout',
            input: ({ context, self }) => ({
              sessionId: context.sessionId,
              socket: self.getSnapshot().children.socket,
            }),
            onDone: '#session.wiping',
            // Unlinking is best effort; the local wipe is not. A device left listed on the phone holds
            // no creds any more and the user can remove it there; keeping creds the user asked us to
            // drop would be worse.
            onError: {
              target: '#session.wiping',
              actions: assign({ lastError: ({ event }) => errorOf('logout-failed', event.error) }),
            },
          },
          after: {
            logoutTimeout: {
              target: '#session.wiping',
              actions: assign({
                lastError: { reason: 'logout-timeout', statusCode: undefined, message: 'logout timed out' },
              }),
            },
          },
          on: {
            // The unlink ends the socket with 401 "Intentional Logout"; that close is expected here and
            // must not cancel the logout actor or count as an error.
            CLOSE: {},
            QR: {},
            OPEN: {},
            LOGOUT: {},
          },
        },
      },
    },
    reconnecting: {
      after: { reconnectDelay: 'active' },
      on: {
        SEND: SEND_WHILE_RESUMING,
        CALL: SEND_WHILE_RESUMING,
        STOP: 'idle',
        LOGOUT: 'wiping',
        // REQUEST_QR is deliberately not handled: clients poll for the QR, and each poll must not cut
        // the backoff short.
      },
    },
    // STOP is ignored here: a half-done wipe would leave creds that the next start tries in vain.
    wiping: {
      invoke: {
        id: 'wipeAuth',
        src: 'wipeAuth',
        input: ({ context }) => ({ sessionId: context.sessionId }),
        onDone: { target: 'logged-out', actions: assign({ user: null, qr: null }) },
        onError: {
          target: 'failed',
          actions: assign({ lastError: ({ event }) => errorOf('wipe-failed', event.error) }),
        },
      },
    },
    // Resting states: nothing runs, STOP has nothing to do, only a person's request leaves them.
    'logged-out': {
      on: { REQUEST_QR: { target: 'active', actions: 'restartAttempts' } },
    },
    // 440: another client holds the account. Only an explicit REQUEST_QR takes it back (with the stored
    // creds, so no scan if they are still valid); anything automatic would fight the other client.
    replaced: {
      on: { REQUEST_QR: { target: 'active', actions: 'restartAttempts' }, LOGOUT: 'wiping' },
    },
    'qr-expired': {
      on: { REQUEST_QR: { target: 'active', actions: 'restartAttempts' }, LOGOUT: 'wiping' },
    },
    // A verdict on the account or the client (ban, outdated), or a failed wipe. REQUEST_QR retries with
    // the stored creds (a failed wipe then ends in 401 -> wipe again); LOGOUT + REQUEST_QR pairs afresh.
    failed: {
      on: { REQUEST_QR: { target: 'active', actions: 'restartAttempts' }, LOGOUT: 'wiping' },
    },
  },
});

export type SessionMachine = typeof sessionMachine;
export type SessionSnapshot = SnapshotFrom<SessionMachine>;
export type SessionActorRef = ActorRefFrom<SessionMachine>;

// ---- what a host reads -----------------------------------------------------------------------------

/** The states the API and the sessions table show: the shared contract's `SESSION_STATES`. */
export type PublicState = SessionState;

/** The state as one string, for the sessions table and the API. */
export function publicState(snapshot: SessionSnapshot): PublicState {
  const value = snapshot.value;
  if (typeof value === 'object') return value.active;
  if (value === 'restoring') return 'idle'; // transient: left before anyone can look
  return value === 'wiping' ? 'logging-out' : value;
}

/** True while the socket is open and logged in: the only time a send can succeed. */
export function isConnected(snapshot: SessionSnapshot): boolean {
  return snapshot.matches({ active: 'connected' });
}

/**
 * Sends a text through the session and resolves with Baileys' WAMessage or a failure value; never
 * rejects. The timeout is a safety net for a socket actor that breaks its reply-once promise.
 */
/** Runs `run` on the session's open socket; never rejects (see CallCommand). */
export function callSocket(
  session: Pick<SessionActorRef, 'send' | 'getSnapshot'>,
  run: CallCommand['run'],
  timeoutMs = 30_000,
  linking = false,
): Promise<Parameters<CallCommand['reply']>[0]> {
  return new Promise((resolve) => {
    let settled = false;
    const timer = setTimeout(
      () => settle({ ok: false, error: 'failed', cause: new Error('timed out') }),
      timeoutMs,
    );
    const settle = (result: Parameters<CallCommand['reply']>[0]) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(result);
    };
    session.send({ type: 'CALL', run, linking, reply: settle });
  });
}

export function sendText(
  session: Pick<SessionActorRef, 'send' | 'getSnapshot'>,
  message: { id: string; to: string; text: string; outgoing?: Outgoing },
  timeoutMs = 60_000,
): Promise<SendResult> {
  if (session.getSnapshot().status !== 'active')
    return Promise.resolve({ ok: false, error: 'not-connected' });
  return new Promise((resolve) => {
    let settled = false;
    const timer = setTimeout(() => settle({ ok: false, error: 'timeout' }), timeoutMs);
    const settle = (result: SendResult) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(result);
    };
    session.send({ type: 'SEND', ...message, reply: settle });
  });
}

import type { WAMessage } from '@whiskeysockets/baileys';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createActor, fromPromise, type PromiseActorLogic, SimulatedClock, toPromise, waitFor } from 'xstate';
import {
  defineSocketActor,
  isConnected,
  type LogoutInput,
  logoutViaSocket,
  MAX_IMMEDIATE_RESTARTS,
  type PublicState,
  publicState,
  type SessionEvent,
  type SessionInput,
  type SessionSnapshot,
  type SocketCommand,
  type SocketEvent,
  type SocketInput,
  sendText,
  sessionMachine,
  type WipeAuthInput,
} from '../../../node-runtime/session/machine.js';

/** One started socket actor, driven by the test. */
interface FakeSocket {
  input: SocketInput;
  emit: (event: SocketEvent) => void;
  commands: SocketCommand[];
  stopped: boolean;
}

type CommandHandler = (command: SocketCommand, socket: FakeSocket) => void;

/** Every actor a test started, stopped after it so no timer outlives its test. */
const running: { stop: () => void }[] = [];

const ALICE = { id: '6281234567890:1@s.whatsapp.net', name: 'Alice' };
const RECONNECT_MS = 5;
const LOGOUT_TIMEOUT_MS = 50;

/** Like Baileys' `logout()`: reply, then end the socket with 401 "Intentional Logout". */
const unlinkLikeBaileys: CommandHandler = (command, socket) => {
  if (command.type !== 'UNLINK') return;
  command.reply({ ok: true });
  socket.emit({ type: 'CLOSE', statusCode: 401, message: 'Intentional Logout' });
};

function harness(
  options: {
    onCommand?: CommandHandler;
    wipe?: (input: WipeAuthInput) => Promise<void>;
    logout?: PromiseActorLogic<void, LogoutInput>;
    clock?: SimulatedClock;
    reconnectDelay?: (attempts: number) => number;
    input?: Partial<SessionInput>;
  } = {},
) {
  const sockets: FakeSocket[] = [];
  const wipes: string[] = [];
  const logouts: LogoutInput[] = [];
  const reconnectDelays: number[] = [];

  const socket = defineSocketActor(({ input, sendBack, receive }) => {
    const fake: FakeSocket = { input, emit: sendBack, commands: [], stopped: false };
    sockets.push(fake);
    receive((command) => {
      fake.commands.push(command);
      options.onCommand?.(command, fake);
    });
    return () => {
      fake.stopped = true;
    };
  });

  const wipeAuth = fromPromise<void, WipeAuthInput>(async ({ input }) => {
    wipes.push(input.sessionId);
    await options.wipe?.(input);
  });

  // Wraps the default logout so tests see that it ran, and with what.
  const recordingLogout = fromPromise<void, LogoutInput>(async ({ input }) => {
    logouts.push(input);
    await toPromise(createActor(logoutViaSocket, { input }).start());
  });

  const machine = sessionMachine.provide({
    actors: {
      socket,
      wipeAuth,
      logout: options.logout ?? recordingLogout,
    },
    delays: {
      reconnectDelay: ({ context }) => {
        const ms = options.reconnectDelay?.(context.attempts) ?? RECONNECT_MS;
        reconnectDelays.push(ms);
        return ms;
      },
      logoutTimeout: LOGOUT_TIMEOUT_MS,
    },
  });
  const actor = createActor(machine, {
    input: { sessionId: 'sess-1', ...options.input },
    ...(options.clock ? { clock: options.clock } : {}),
  });
  actor.start();
  running.push(actor);

  const current = (): FakeSocket => {
    const last = sockets.at(-1);
    if (!last) throw new Error('no socket started');
    return last;
  };
  const state = () => publicState(actor.getSnapshot());
  const until = (wanted: PublicState) =>
    waitFor(actor, (s: SessionSnapshot) => publicState(s) === wanted, { timeout: 1_000 });
  const send = (event: SessionEvent) => actor.send(event);

  /** START, scan, open: the usual way to `connected`. */
  const connect = async () => {
    send({ type: 'START' });
    current().emit({ type: 'OPEN', user: ALICE });
    await until('connected');
  };

  return { actor, sockets, wipes, logouts, reconnectDelays, current, state, until, send, connect };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

afterEach(() => {
  for (const actor of running.splice(0)) actor.stop();
  vi.restoreAllMocks();
});

describe('session machine: pairing and opening', () => {
  it('starts idle, with nothing running', () => {
    const h = harness();
    expect(h.state()).toBe('idle');
    expect(isConnected(h.actor.getSnapshot())).toBe(false);
    expect(h.sockets).toHaveLength(0);
    expect(h.actor.getSnapshot().context).toMatchObject({ qr: null, user: null, attempts: 0 });
  });

  it('START connects; QR shows the code; a new QR replaces it; OPEN connects and clears it', async () => {
    const h = harness();
    h.send({ type: 'START' });
    expect(h.state()).toBe('connecting');
    expect(h.current().input).toEqual({ sessionId: 'sess-1', attempt: 0 });

    h.current().emit({ type: 'QR', qr: 'ref-1,noise,identity,adv' });
    expect(h.state()).toBe('awaiting-qr');
    expect(h.actor.getSnapshot().context.qr).toBe('ref-1,noise,identity,adv');

    h.current().emit({ type: 'QR', qr: 'ref-2,noise,identity,adv' });
    expect(h.state()).toBe('awaiting-qr');
    expect(h.actor.getSnapshot().context.qr).toBe('ref-2,noise,identity,adv');

    h.current().emit({ type: 'OPEN', user: ALICE });
    const snapshot = h.actor.getSnapshot();
    expect(publicState(snapshot)).toBe('connected');
    expect(isConnected(snapshot)).toBe(true);
    expect(snapshot.context).toMatchObject({ qr: null, user: ALICE, attempts: 0, lastError: null });
  });

  it('OPEN straight from connecting (stored creds, no QR)', () => {
    const h = harness();
    h.send({ type: 'START' });
    h.current().emit({ type: 'OPEN', user: ALICE });
    expect(h.state()).toBe('connected');
  });

  it('START is ignored when already connecting or connected', async () => {
    const h = harness();
    h.send({ type: 'START' });
    h.send({ type: 'START' });
    expect(h.sockets).toHaveLength(1);
    h.current().emit({ type: 'OPEN', user: ALICE });
    h.send({ type: 'START' });
    expect(h.sockets).toHaveLength(1);
    expect(h.state()).toBe('connected');
  });

  it('REQUEST_QR from idle starts pairing like START', () => {
    const h = harness();
    h.send({ type: 'REQUEST_QR' });
    expect(h.state()).toBe('connecting');
    expect(h.sockets).toHaveLength(1);
  });

  it('REQUEST_QR while awaiting a scan or connected does nothing', () => {
    const h = harness();
    h.send({ type: 'START' });
    h.current().emit({ type: 'QR', qr: 'q1' });
    h.send({ type: 'REQUEST_QR' });
    expect(h.state()).toBe('awaiting-qr');
    h.current().emit({ type: 'OPEN', user: ALICE });
    h.send({ type: 'REQUEST_QR' });
    expect(h.state()).toBe('connected');
    expect(h.sockets).toHaveLength(1);
  });
});

describe('session machine: 515 restart required', () => {
  it('reconnects at once on a new socket, without backoff, after a scan', () => {
    const h = harness();
    h.send({ type: 'START' });
    const first = h.current();
    first.emit({ type: 'QR', qr: 'q1' });
    first.emit({ type: 'CLOSE', statusCode: 515, message: 'Stream Errored (restart required)' });

    // Synchronous: no delay was scheduled.
    expect(h.state()).toBe('connecting');
    expect(first.stopped).toBe(true);
    expect(h.sockets).toHaveLength(2);
    expect(h.current().input.attempt).toBe(0);
    expect(h.reconnectDelays).toEqual([]);
    expect(h.actor.getSnapshot().context).toMatchObject({ qr: null, attempts: 0, restarts: 1 });

    h.current().emit({ type: 'OPEN', user: ALICE });
    expect(h.state()).toBe('connected');
    expect(h.actor.getSnapshot().context).toMatchObject({ restarts: 0, lastError: null });
  });

  it('events from a socket that was replaced are ignored', () => {
    const h = harness();
    h.send({ type: 'START' });
    const first = h.current();
    first.emit({ type: 'CLOSE', statusCode: 515, message: 'Stream Errored (restart required)' });
    first.emit({ type: 'OPEN', user: ALICE });
    first.emit({ type: 'CLOSE', statusCode: 401, message: 'stale' });
    expect(h.state()).toBe('connecting');
  });

  it(`backs off after ${MAX_IMMEDIATE_RESTARTS} restarts in a row without an open`, async () => {
    const h = harness();
    h.send({ type: 'START' });
    for (let i = 0; i < MAX_IMMEDIATE_RESTARTS; i++) {
      h.current().emit({ type: 'CLOSE', statusCode: 515, message: 'Stream Errored (restart required)' });
      expect(h.state()).toBe('connecting');
    }
    h.current().emit({ type: 'CLOSE', statusCode: 515, message: 'Stream Errored (restart required)' });
    expect(h.state()).toBe('reconnecting');
    expect(h.actor.getSnapshot().context.attempts).toBe(1);
    await h.until('connecting');
    expect(h.sockets).toHaveLength(MAX_IMMEDIATE_RESTARTS + 2);
  });
});

describe('session machine: transient closes and backoff', () => {
  it('a transient close goes to reconnecting, then connects a new socket after the delay', async () => {
    const h = harness();
    await h.connect();
    const first = h.current();
    first.emit({ type: 'CLOSE', statusCode: 428, message: 'Connection Terminated' });

    const snapshot = h.actor.getSnapshot();
    expect(publicState(snapshot)).toBe('reconnecting');
    expect(isConnected(snapshot)).toBe(false);
    expect(first.stopped).toBe(true);
    expect(snapshot.context.attempts).toBe(1);
    expect(snapshot.context.user).toEqual(ALICE);
    expect(snapshot.context.lastError).toEqual({
      reason: 'connection-closed',
      statusCode: 428,
      message: 'Connection Terminated',
    });

    await h.until('connecting');
    expect(h.sockets).toHaveLength(2);
    expect(h.current().input.attempt).toBe(1);
  });

  it.each([
    [408, 'Connection was lost'],
    [408, 'Timed Out'],
    [500, 'Stream Errored (xml-not-well-formed)'],
    [503, 'Stream Errored (service unavailable)'],
    [undefined, 'connection errored'],
    [403, 'WebSocket Error (Unexpected server response: 403)'],
  ])('%s %s is transient', async (statusCode, message) => {
    const h = harness();
    h.send({ type: 'START' });
    h.current().emit({ type: 'CLOSE', statusCode, message });
    expect(h.state()).toBe('reconnecting');
    await h.until('connecting');
  });

  it('each close in a row waits longer: real backoff delays on a simulated clock', () => {
    // Pin the jitter to the middle so the delays are exact: half of 1 s, 2 s, 4 s.
    vi.spyOn(Math, 'random').mockReturnValue(0.5);
    const clock = new SimulatedClock();
    // No reconnectDelay override: the machine's own, from backoff.ts.
    const sockets: FakeSocket[] = [];
    const machine = sessionMachine.provide({
      actors: {
        socket: defineSocketActor(({ input, sendBack }) => {
          sockets.push({ input, emit: sendBack, commands: [], stopped: false });
          return () => {};
        }),
      },
    });
    const actor = createActor(machine, { input: { sessionId: 's' }, clock }).start();
    actor.send({ type: 'START' });
    const closeLatest = () => sockets.at(-1)?.emit({ type: 'CLOSE', statusCode: 428, message: 'closed' });

    for (const expectedMs of [500, 1_000, 2_000]) {
      closeLatest();
      expect(publicState(actor.getSnapshot())).toBe('reconnecting');
      clock.increment(expectedMs - 1);
      expect(publicState(actor.getSnapshot())).toBe('reconnecting');
      clock.increment(1);
      expect(publicState(actor.getSnapshot())).toBe('connecting');
    }
    expect(actor.getSnapshot().context.attempts).toBe(3);
    actor.stop();
  });

  it('the delay grows with the attempt counter, which an OPEN resets', async () => {
    const h = harness({ reconnectDelay: (attempts) => attempts * 2 });
    await h.connect();
    for (let i = 0; i < 3; i++) {
      h.current().emit({ type: 'CLOSE', statusCode: 428, message: 'Connection Terminated' });
      await h.until('connecting');
    }
    expect(h.reconnectDelays).toEqual([2, 4, 6]);
    expect(h.actor.getSnapshot().context.attempts).toBe(3);

    h.current().emit({ type: 'OPEN', user: ALICE });
    expect(h.actor.getSnapshot().context.attempts).toBe(0);
    h.current().emit({ type: 'CLOSE', statusCode: 428, message: 'Connection Terminated' });
    await h.until('connecting');
    expect(h.reconnectDelays).toEqual([2, 4, 6, 2]);
  });

  it('REQUEST_QR does not cut a backoff short (clients poll for the QR)', async () => {
    const h = harness({ reconnectDelay: () => 40 });
    h.send({ type: 'START' });
    h.current().emit({ type: 'CLOSE', statusCode: 428, message: 'closed' });
    h.send({ type: 'REQUEST_QR' });
    h.send({ type: 'START' });
    expect(h.state()).toBe('reconnecting');
    expect(h.sockets).toHaveLength(1);
    await h.until('connecting');
  });

  it('a socket actor that throws is retried with backoff and recorded', () => {
    const crashing = sessionMachine.provide({
      actors: {
        socket: defineSocketActor(() => {
          throw new Error('auth store unreachable');
        }),
      },
      delays: { reconnectDelay: 1_000 },
    });
    const actor = createActor(crashing, { input: { sessionId: 's' } }).start();
    actor.send({ type: 'START' });
    expect(publicState(actor.getSnapshot())).toBe('reconnecting');
    expect(actor.getSnapshot().context.lastError).toMatchObject({
      reason: 'socket-crashed',
      message: 'auth store unreachable',
    });
    actor.stop();
  });

  it('without a socket actor provided, the placeholder says so', () => {
    const actor = createActor(sessionMachine, { input: { sessionId: 's' } }).start();
    actor.send({ type: 'START' });
    expect(actor.getSnapshot().context.lastError?.message).toMatch(/socket.*not provided/);
    actor.stop();
  });
});

describe('session machine: permanent closes', () => {
  it('401 wipes the auth state and rests in logged-out, without reconnecting', async () => {
    const h = harness();
    await h.connect();
    const socket = h.current();
    socket.emit({ type: 'CLOSE', statusCode: 401, message: 'Stream Errored (conflict)' });
    expect(h.state()).toBe('logging-out'); // wiping
    expect(socket.stopped).toBe(true);

    await h.until('logged-out');
    expect(h.wipes).toEqual(['sess-1']);
    expect(h.logouts).toHaveLength(0); // the phone already unlinked us
    const { context } = h.actor.getSnapshot();
    expect(context).toMatchObject({ user: null, qr: null });
    expect(context.lastError).toMatchObject({ reason: 'logged-out', statusCode: 401 });

    await sleep(RECONNECT_MS * 4);
    expect(h.sockets).toHaveLength(1);
    h.send({ type: 'STOP' });
    h.send({ type: 'START' });
    expect(h.state()).toBe('logged-out');
  });

  it('a failed wipe ends in failed, and REQUEST_QR from there retries', async () => {
    const h = harness({
      wipe: async () => {
        throw new Error('db down');
      },
    });
    await h.connect();
    h.current().emit({ type: 'CLOSE', statusCode: 401, message: 'Connection Failure' });
    await h.until('failed');
    expect(h.actor.getSnapshot().context.lastError).toMatchObject({
      reason: 'wipe-failed',
      message: 'db down',
    });
    h.send({ type: 'REQUEST_QR' });
    expect(h.state()).toBe('connecting');
  });

  it('440 rests in replaced: no reconnect, STOP and START do nothing, REQUEST_QR takes the account back', async () => {
    const h = harness();
    await h.connect();
    h.current().emit({ type: 'CLOSE', statusCode: 440, message: 'Stream Errored (conflict)' });
    expect(h.state()).toBe('replaced');
    expect(h.current().stopped).toBe(true);
    expect(h.actor.getSnapshot().context.lastError).toMatchObject({ reason: 'replaced', statusCode: 440 });

    await sleep(RECONNECT_MS * 4);
    h.send({ type: 'START' });
    h.send({ type: 'STOP' });
    expect(h.state()).toBe('replaced');
    expect(h.sockets).toHaveLength(1);
    expect(h.wipes).toHaveLength(0); // the other client may be using these creds

    h.send({ type: 'REQUEST_QR' });
    expect(h.state()).toBe('connecting');
    expect(h.sockets).toHaveLength(2);
    expect(h.current().input.attempt).toBe(0);
  });

  it('408 "QR refs attempts ended" while awaiting a scan rests in qr-expired; REQUEST_QR pairs again', async () => {
    const h = harness();
    h.send({ type: 'START' });
    h.current().emit({ type: 'QR', qr: 'q1' });
    h.current().emit({ type: 'CLOSE', statusCode: 408, message: 'QR refs attempts ended' });
    expect(h.state()).toBe('qr-expired');
    expect(h.actor.getSnapshot().context.qr).toBeNull();

    await sleep(RECONNECT_MS * 4);
    expect(h.sockets).toHaveLength(1);
    expect(h.state()).toBe('qr-expired');

    h.send({ type: 'REQUEST_QR' });
    expect(h.state()).toBe('connecting');
    h.current().emit({ type: 'QR', qr: 'q2' });
    expect(h.state()).toBe('awaiting-qr');
    expect(h.actor.getSnapshot().context.qr).toBe('q2');
  });

  it.each([
    [403, 'forbidden'],
    [402, 'temporarily-banned'],
    [405, 'client-outdated'],
    [411, 'multidevice-mismatch'],
  ])('%s rests in failed (%s); REQUEST_QR retries', async (statusCode, reason) => {
    const h = harness();
    await h.connect();
    h.current().emit({ type: 'CLOSE', statusCode, message: 'Connection Failure' });
    expect(h.state()).toBe('failed');
    expect(h.actor.getSnapshot().context.lastError).toMatchObject({ reason, statusCode });
    await sleep(RECONNECT_MS * 4);
    expect(h.sockets).toHaveLength(1);
    h.send({ type: 'START' });
    expect(h.state()).toBe('failed');
    h.send({ type: 'REQUEST_QR' });
    expect(h.state()).toBe('connecting');
    expect(h.wipes).toHaveLength(0);
  });

  it('REQUEST_QR from logged-out starts a fresh pairing', async () => {
    const h = harness();
    await h.connect();
    h.current().emit({ type: 'CLOSE', statusCode: 401, message: 'Connection Failure' });
    await h.until('logged-out');

    h.send({ type: 'REQUEST_QR' });
    expect(h.state()).toBe('connecting');
    expect(h.sockets).toHaveLength(2);
    h.current().emit({ type: 'QR', qr: 'fresh' });
    expect(h.state()).toBe('awaiting-qr');
    h.current().emit({ type: 'CLOSE', statusCode: 515, message: 'Stream Errored (restart required)' });
    h.current().emit({ type: 'OPEN', user: ALICE });
    expect(h.state()).toBe('connected');
    expect(h.actor.getSnapshot().context.user).toEqual(ALICE);
  });
});

describe('session machine: STOP', () => {
  it('from connected ends the socket without unlinking or wiping, and goes idle', async () => {
    const h = harness({ onCommand: unlinkLikeBaileys });
    await h.connect();
    const socket = h.current();
    h.send({ type: 'STOP' });
    expect(h.state()).toBe('idle');
    expect(socket.stopped).toBe(true);
    expect(socket.commands).toEqual([]);
    await sleep(RECONNECT_MS * 4);
    expect(h.logouts).toHaveLength(0);
    expect(h.wipes).toHaveLength(0);
    expect(h.sockets).toHaveLength(1);
    // The account is still linked: a later START resumes it.
    expect(h.actor.getSnapshot().context.user).toEqual(ALICE);
    h.send({ type: 'START' });
    expect(h.state()).toBe('connecting');
  });

  it('from awaiting-qr clears the QR', () => {
    const h = harness();
    h.send({ type: 'START' });
    h.current().emit({ type: 'QR', qr: 'q1' });
    h.send({ type: 'STOP' });
    expect(h.state()).toBe('idle');
    expect(h.actor.getSnapshot().context.qr).toBeNull();
  });

  it('from reconnecting cancels the pending reconnect', async () => {
    const h = harness({ reconnectDelay: () => 20 });
    h.send({ type: 'START' });
    h.current().emit({ type: 'CLOSE', statusCode: 428, message: 'closed' });
    h.send({ type: 'STOP' });
    expect(h.state()).toBe('idle');
    await sleep(60);
    expect(h.state()).toBe('idle');
    expect(h.sockets).toHaveLength(1);
  });

  it('START after STOP begins again with a fresh attempt counter', async () => {
    const h = harness();
    h.send({ type: 'START' });
    h.current().emit({ type: 'CLOSE', statusCode: 428, message: 'closed' });
    h.send({ type: 'STOP' });
    h.send({ type: 'START' });
    expect(h.actor.getSnapshot().context.attempts).toBe(0);
    expect(h.current().input.attempt).toBe(0);
  });
});

describe('session machine: LOGOUT', () => {
  it('from connected asks the socket to unlink, then wipes, then rests in logged-out', async () => {
    const h = harness({ onCommand: unlinkLikeBaileys });
    await h.connect();
    const socket = h.current();
    h.send({ type: 'LOGOUT' });

    await h.until('logged-out');
    expect(h.logouts).toHaveLength(1);
    expect(h.logouts[0]?.sessionId).toBe('sess-1');
    expect(h.logouts[0]?.socket).toBeDefined();
    expect(socket.commands.map((c) => c.type)).toEqual(['UNLINK']);
    expect(socket.stopped).toBe(true);
    expect(h.wipes).toEqual(['sess-1']);
    const { context } = h.actor.getSnapshot();
    // The 401 that Baileys' logout() ends with is expected, not an error.
    expect(context).toMatchObject({ user: null, qr: null, lastError: null });
    expect(h.sockets).toHaveLength(1);
  });

  it('reports logging-out while the unlink is in flight, and refuses sends', async () => {
    let replyLater: (() => void) | undefined;
    const h = harness({
      onCommand: (command) => {
        if (command.type === 'UNLINK') replyLater = () => command.reply({ ok: true });
      },
    });
    await h.connect();
    h.send({ type: 'LOGOUT' });
    expect(h.state()).toBe('logging-out');
    expect(isConnected(h.actor.getSnapshot())).toBe(false);
    expect(await sendText(h.actor, { id: 'msg-1', to: 'x@s.whatsapp.net', text: 'hi' })).toEqual({
      ok: false,
      error: 'not-connected',
    });
    h.send({ type: 'LOGOUT' });
    h.send({ type: 'STOP' });
    expect(h.logouts).toHaveLength(1);
    // STOP during the unlink wins (host shutdown): idle, nothing wiped.
    expect(h.state()).toBe('idle');
    replyLater?.();
    await sleep(5);
    expect(h.wipes).toHaveLength(0);
  });

  it('when the unlink fails, still wipes and records why', async () => {
    const h = harness({
      onCommand: (command) => {
        if (command.type === 'UNLINK') command.reply({ ok: false, cause: new Error('Connection Closed') });
      },
    });
    await h.connect();
    h.send({ type: 'LOGOUT' });
    await h.until('logged-out');
    expect(h.wipes).toEqual(['sess-1']);
    expect(h.actor.getSnapshot().context.lastError).toMatchObject({
      reason: 'logout-failed',
      message: 'Connection Closed',
    });
  });

  it('when a provided logout actor rejects, still wipes', async () => {
    const h = harness({
      logout: fromPromise<void, LogoutInput>(async () => {
        throw new Error('boom');
      }),
    });
    await h.connect();
    h.send({ type: 'LOGOUT' });
    await h.until('logged-out');
    expect(h.wipes).toEqual(['sess-1']);
    expect(h.actor.getSnapshot().context.lastError).toMatchObject({
      reason: 'logout-failed',
      message: 'boom',
    });
  });

  it('when the socket never answers, times out and wipes', async () => {
    const h = harness();
    await h.connect();
    h.send({ type: 'LOGOUT' });
    expect(h.state()).toBe('logging-out');
    await h.until('logged-out');
    expect(h.wipes).toEqual(['sess-1']);
    expect(h.actor.getSnapshot().context.lastError).toMatchObject({ reason: 'logout-timeout' });
  });

  it('when the wipe fails after logout, ends in failed', async () => {
    const h = harness({
      onCommand: unlinkLikeBaileys,
      wipe: async () => {
        throw new Error('db down');
      },
    });
    await h.connect();
    h.send({ type: 'LOGOUT' });
    await h.until('failed');
    expect(h.actor.getSnapshot().context.lastError).toMatchObject({ reason: 'wipe-failed' });
  });

  it('from awaiting-qr goes through the socket too (nothing is linked; Baileys just ends it)', async () => {
    const h = harness({ onCommand: unlinkLikeBaileys });
    h.send({ type: 'START' });
    h.current().emit({ type: 'QR', qr: 'q1' });
    h.send({ type: 'LOGOUT' });
    await h.until('logged-out');
    expect(h.logouts).toHaveLength(1);
    expect(h.wipes).toEqual(['sess-1']);
  });

  it.each<[string, (h: ReturnType<typeof harness>) => Promise<void>]>([
    ['idle', async () => {}],
    [
      'reconnecting',
      async (h) => {
        h.send({ type: 'START' });
        h.current().emit({ type: 'CLOSE', statusCode: 428, message: 'closed' });
      },
    ],
    [
      'replaced',
      async (h) => {
        await h.connect();
        h.current().emit({ type: 'CLOSE', statusCode: 440, message: 'conflict' });
      },
    ],
    [
      'qr-expired',
      async (h) => {
        h.send({ type: 'START' });
        h.current().emit({ type: 'CLOSE', statusCode: 408, message: 'QR refs attempts ended' });
      },
    ],
    [
      'failed',
      async (h) => {
        await h.connect();
        h.current().emit({ type: 'CLOSE', statusCode: 403, message: 'Connection Failure' });
      },
    ],
  ])('from %s, with no socket to unlink, wipes straight away', async (from, arrive) => {
    const h = harness({ reconnectDelay: () => 1_000 });
    await arrive(h);
    expect(h.state()).toBe(from);
    h.send({ type: 'LOGOUT' });
    await h.until('logged-out');
    expect(h.logouts).toHaveLength(0);
    expect(h.wipes).toEqual(['sess-1']);
    h.actor.stop();
  });

  it('in logged-out, LOGOUT again does nothing', async () => {
    const h = harness();
    h.send({ type: 'LOGOUT' });
    await h.until('logged-out');
    h.send({ type: 'LOGOUT' });
    expect(h.state()).toBe('logged-out');
    expect(h.wipes).toHaveLength(1);
  });
});

describe('session machine: sending', () => {
  const sent = (to: string, text: string): WAMessage => ({
    key: { remoteJid: to, id: '3EB0ABCDEF', fromMe: true },
    message: { extendedTextMessage: { text } },
  });

  it('while connected, forwards the request to the socket and resolves with its WAMessage', async () => {
    const h = harness({
      onCommand: (command) => {
        if (command.type === 'SEND') command.reply({ ok: true, message: sent(command.to, command.text) });
      },
    });
    await h.connect();
    const result = await sendText(h.actor, { id: 'msg-2', to: '6289876543210@s.whatsapp.net', text: 'halo' });
    expect(result).toEqual({ ok: true, message: sent('6289876543210@s.whatsapp.net', 'halo') });
    expect(h.current().commands).toHaveLength(1);
  });

  it('handles concurrent sends, each with its own reply', async () => {
    const h = harness({
      onCommand: (command) => {
        if (command.type !== 'SEND') return;
        // Answer out of order.
        setTimeout(
          () => command.reply({ ok: true, message: sent(command.to, command.text) }),
          command.text === 'a' ? 10 : 1,
        );
      },
    });
    await h.connect();
    const [a, b] = await Promise.all([
      sendText(h.actor, { id: 'msg-3', to: '1@s.whatsapp.net', text: 'a' }),
      sendText(h.actor, { id: 'msg-4', to: '2@s.whatsapp.net', text: 'b' }),
    ]);
    expect(a.ok && a.message.key.remoteJid).toBe('1@s.whatsapp.net');
    expect(b.ok && b.message.key.remoteJid).toBe('2@s.whatsapp.net');
  });

  it('passes a send failure through as a value', async () => {
    const cause = new Error('Connection Closed');
    const h = harness({
      onCommand: (command) => {
        if (command.type === 'SEND') command.reply({ ok: false, error: 'send-failed', cause });
      },
    });
    await h.connect();
    expect(await sendText(h.actor, { id: 'msg-5', to: '1@s.whatsapp.net', text: 'x' })).toEqual({
      ok: false,
      error: 'send-failed',
      cause,
    });
  });

  it.each<[string, (h: ReturnType<typeof harness>) => void]>([
    ['idle', () => {}],
    ['connecting', (h) => h.send({ type: 'START' })],
    [
      'awaiting-qr',
      (h) => {
        h.send({ type: 'START' });
        h.current().emit({ type: 'QR', qr: 'q' });
      },
    ],
    [
      'reconnecting',
      (h) => {
        h.send({ type: 'START' });
        h.current().emit({ type: 'CLOSE', statusCode: 428, message: 'closed' });
      },
    ],
  ])('in %s, answers not-connected at once without touching the socket', async (from, arrive) => {
    const h = harness({ reconnectDelay: () => 1_000 });
    arrive(h);
    expect(h.state()).toBe(from);
    expect(await sendText(h.actor, { id: 'msg-6', to: '1@s.whatsapp.net', text: 'x' })).toEqual({
      ok: false,
      error: 'not-connected',
    });
    for (const socket of h.sockets) expect(socket.commands).toEqual([]);
    h.actor.stop();
  });

  it.each<[string, (h: ReturnType<typeof harness>) => void]>([
    ['connecting', () => {}],
    ['reconnecting', (h) => h.current().emit({ type: 'CLOSE', statusCode: 428, message: 'closed' })],
    ['idle', (h) => h.send({ type: 'STOP' })],
  ])('a linked session in %s answers reconnecting (retry soon), not "scan the QR"', async (from, arrive) => {
    const h = harness({ input: { user: ALICE, restore: 'connecting' }, reconnectDelay: () => 1_000 });
    arrive(h);
    expect(h.state()).toBe(from);
    expect(await sendText(h.actor, { id: 'msg-7', to: '1@s.whatsapp.net', text: 'x' })).toEqual({
      ok: false,
      error: 'reconnecting',
    });
    for (const socket of h.sockets) expect(socket.commands).toEqual([]);
  });

  it.each(['replaced', 'failed'] as const)(
    'a linked session resting in %s answers not-connected: only a person can bring it back',
    async (state) => {
      const h = harness({ input: { user: ALICE, restore: state } });
      expect(await sendText(h.actor, { id: 'msg-8', to: '1@s.whatsapp.net', text: 'x' })).toEqual({
        ok: false,
        error: 'not-connected',
      });
    },
  );

  it('answers not-connected when the session actor is stopped', async () => {
    const h = harness();
    await h.connect();
    h.actor.stop();
    expect(await sendText(h.actor, { id: 'msg-9', to: '1@s.whatsapp.net', text: 'x' })).toEqual({
      ok: false,
      error: 'not-connected',
    });
  });

  it('times out when the socket never replies', async () => {
    const h = harness();
    await h.connect();
    expect(await sendText(h.actor, { id: 'msg-10', to: '1@s.whatsapp.net', text: 'x' }, 20)).toEqual({
      ok: false,
      error: 'timeout',
    });
  });

  it('a reply after the timeout is ignored', async () => {
    let late: (() => void) | undefined;
    const h = harness({
      onCommand: (command) => {
        if (command.type === 'SEND') late = () => command.reply({ ok: true, message: sent(command.to, 'x') });
      },
    });
    await h.connect();
    const result = await sendText(h.actor, { id: 'msg-11', to: '1@s.whatsapp.net', text: 'x' }, 10);
    late?.();
    expect(result).toEqual({ ok: false, error: 'timeout' });
  });
});

describe('session machine: restored from the sessions table', () => {
  it('a linked session resumes at once: connecting with its stored account, no QR asked for', async () => {
    const h = harness({ input: { user: ALICE, restore: 'connecting' } });
    expect(h.state()).toBe('connecting');
    expect(h.sockets).toHaveLength(1);
    expect(h.actor.getSnapshot().context.user).toEqual(ALICE);
    h.current().emit({ type: 'OPEN', user: ALICE });
    await h.until('connected');
  });

  it.each(['replaced', 'qr-expired', 'failed', 'logged-out'] as const)(
    'a session that rested in %s rests there again, with no socket',
    (state) => {
      const h = harness({ input: { user: state === 'logged-out' ? null : ALICE, restore: state } });
      expect(h.state()).toBe(state);
      expect(h.sockets).toHaveLength(0);
    },
  );

  it('without a stored state a session starts idle and never links by itself', () => {
    const h = harness();
    expect(h.state()).toBe('idle');
    expect(h.sockets).toHaveLength(0);
  });

  it('a close while resuming keeps the account: the session is still linked', async () => {
    const h = harness({ input: { user: ALICE, restore: 'connecting' }, reconnectDelay: () => 1_000 });
    h.current().emit({ type: 'CLOSE', statusCode: 428, message: 'Connection Terminated' });
    expect(h.state()).toBe('reconnecting');
    expect(h.actor.getSnapshot().context.user).toEqual(ALICE);
  });
});

describe('publicState', () => {
  it('names every state a host can see', async () => {
    const seen = new Set<PublicState>();
    const h = harness({ onCommand: unlinkLikeBaileys });
    h.actor.subscribe((s) => seen.add(publicState(s)));
    seen.add(h.state());
    h.send({ type: 'START' });
    h.current().emit({ type: 'QR', qr: 'q' });
    h.current().emit({ type: 'CLOSE', statusCode: 408, message: 'QR refs attempts ended' });
    h.send({ type: 'REQUEST_QR' });
    h.current().emit({ type: 'CLOSE', statusCode: 428, message: 'closed' });
    await h.until('connecting');
    h.current().emit({ type: 'CLOSE', statusCode: 440, message: 'conflict' });
    h.send({ type: 'REQUEST_QR' });
    h.current().emit({ type: 'CLOSE', statusCode: 403, message: 'Connection Failure' });
    h.send({ type: 'REQUEST_QR' });
    h.current().emit({ type: 'OPEN', user: ALICE });
    h.send({ type: 'LOGOUT' });
    await h.until('logged-out');
    expect([...seen].sort()).toEqual(
      [
        'idle',
        'connecting',
        'awaiting-qr',
        'qr-expired',
        'reconnecting',
        'replaced',
        'failed',
        'connected',
        'logging-out',
        'logged-out',
      ].sort(),
    );
  });
});

import { Agent as HttpsAgent } from 'node:https';
import type { Socket } from 'node:net';
import makeWASocket, {
  Browsers,
  fetchLatestWaWebVersion,
  jidNormalizedUser,
  WA_CERT_DETAILS,
  type WASocket,
} from '@whiskeysockets/baileys';
import type { Logger } from 'pino';
import type { SessionJournal } from '../events/journal.js';
import { closeDetailsOf } from '../session/disconnect.js';
import {
  defineSocketActor,
  type SendCommand,
  type SendResult,
  type SocketActorLogic,
} from '../session/machine.js';
import type { AuthStore } from './auth-store.js';
import { isOnWhatsApp } from './number-check.js';
import { baileysMessage } from './outgoing.js';
import { recordingHooks, recordServerAcks } from './recorder.js';
import { resentMessage, type SentRow } from './resend.js';

export type WaConnection = {
  /** WhatsApp's WebSocket URL; set only to point at the simulator (WA_WS_URL). */
  wsUrl?: string;
  /** Hex root public key of the simulator's certificate chain (WA_TRUST_ROOT); never set in production. */
  trustRoot?: string;
  /** PEM of the simulator's media CA (WA_MEDIA_CA), trusted for uploads and downloads; never in production. */
  mediaCa?: string;
  /** WhatsApp Web version to announce; default Baileys' built-in one. */
  version?: [number, number, number];
  /** Fetch the current version from web.whatsapp.com when the host starts (WA_FETCH_VERSION). */
  fetchVersion?: boolean;
  /** Tests only: how long each QR lives (Baileys: 60 s for the first, 20 s for the next). */
  qrTimeoutMs?: number;
  /** Tests only: Baileys' keep-alive ping interval (30 s); a socket silent for this + 5 s is lost. */
  keepAliveIntervalMs?: number;
};

/**
 * The version to announce: the configured one, or, only when asked, the one web.whatsapp.com publishes
 * (Baileys falls back to its built-in version if that fetch fails). Nothing is fetched otherwise.
 */
export const resolveWaVersion = async (wa: WaConnection, logger: Logger): Promise<WaConnection> => {
  if (wa.version || !wa.fetchVersion) return wa;
  const { version, isLatest, error } = await fetchLatestWaWebVersion({});
  logger.info({ version: version.join('.'), isLatest, failed: !!error }, 'WhatsApp Web version');
  return { ...wa, version: version as [number, number, number] };
};

/** Applies the simulator's trust root to Baileys' process-wide default; a no-op in production. */
export const applyTrustRoot = (trustRoot: string | undefined) => {
  if (trustRoot) WA_CERT_DETAILS.PUBLIC_KEY = Buffer.from(trustRoot, 'hex');
};

/** The account behind a socket, as the API shows it: `<digits>@s.whatsapp.net` and the push name. */
export const accountOf = (sock: WASocket) => ({
  id: jidNormalizedUser(sock.user?.id ?? ''),
  name: sock.user?.name ?? null,
});

/**
 * The real Baileys socket as the session machine's `socket` actor: one actor start is one socket.
 * Events go back to the machine; SEND and UNLINK come in; the cleanup ends the socket without
 * logging out, so the device stays linked.
 */
export const makeSocketActor = (deps: {
  authStore: (sessionId: string) => Promise<AuthStore>;
  wa: WaConnection;
  logger: Logger;
  /** Told about each socket's ending, so a host can wait for them all before it closes the database. */
  onEnding?: (ended: Promise<void>) => void;
  /** Where the session's messages, receipts and their events are written. */
  journal: (sessionId: string) => SessionJournal;
  /** A message the session sent, from the store: what a recipient's retry receipt asks for again. */
  sentRow: (sessionId: string, id: string) => Promise<SentRow | undefined>;
  /** Told of each retry receipt (metrics). */
  onAskedAgain?: () => void;
}): SocketActorLogic =>
  defineSocketActor(({ input, sendBack, receive }) => {
    const logger = deps.logger.child({ sessionId: input.sessionId });
    let sock: WASocket | undefined;
    let ended = false;
    // Each in-flight send's reply, called at most once: by its own outcome or by the socket closing.
    const inFlight = new Set<SendCommand['reply']>();
    // The sends asked for in one turn of the event loop (an outbox hands over what it claimed at once).
    let together: { sock: WASocket; sends: Batched[] } | undefined;

    void deps
      .authStore(input.sessionId)
      .then((store) => {
        if (ended) return;
        const journal = deps.journal(input.sessionId);
        forgetUntypedPairingCode(store);
        sock = makeWASocket({
          ...recordingHooks(() => sock, journal),
          // A recipient's phone that could not decrypt a message asks for it again; Baileys sends it once
          // more, on a new Signal session, with what this returns. (Baileys also asks when a vote on a poll
          // comes in: we send no polls, so there is none.)
          getMessage: async ({ id }) => {
            if (!id) return undefined;
            const row = await deps.sentRow(input.sessionId, id);
            logger.info({ messageId: id, found: !!row }, 'a message we sent, asked for again');
            return row && resentMessage(row, id, sock?.user?.id ?? '');
          },
          auth: store.state,
          // Baileys' own log repeats what the session states say (a 515 after pairing is an "error" there);
          // it is shown only when debugging.
          logger: logger.child(
            { module: 'baileys' },
            { level: ['debug', 'trace'].includes(logger.level) ? logger.level : 'silent' },
          ),
          browser: Browsers.ubuntu('Chrome'),
          markOnlineOnConnect: false,
          generateHighQualityLinkPreview: false,
          ...(deps.wa.wsUrl ? { waWebSocketUrl: deps.wa.wsUrl } : {}),
          ...(deps.wa.mediaCa ? { fetchAgent: mediaAgent(deps.wa.mediaCa) } : {}),
          ...(deps.wa.version ? { version: deps.wa.version } : {}),
          ...(deps.wa.qrTimeoutMs ? { qrTimeout: deps.wa.qrTimeoutMs } : {}),
          ...(deps.wa.keepAliveIntervalMs ? { keepAliveIntervalMs: deps.wa.keepAliveIntervalMs } : {}),
        });
        const current = sock;
        recordServerAcks(current, journal, logger);
        current.ws.on('CB:receipt,type:retry', () => deps.onAskedAgain?.());
        current.ev.on('creds.update', () => {
          store.saveCreds().catch((err) => logger.error({ err }, 'saving creds failed'));
        });
        current.ev.on('connection.update', (u) => {
          if (ended) return;
          if (u.qr) sendBack({ type: 'QR', qr: u.qr });
          if (u.connection === 'open') sendBack({ type: 'OPEN', user: accountOf(current) });
          if (u.connection === 'close') {
            const details = closeDetailsOf(u.lastDisconnect?.error);
            logger.info({ statusCode: details.statusCode, reason: details.message }, 'socket closed');
            // Baileys resolves a send once its stanza is written, so one still in flight most likely did
            // not leave: the caller may retry once the session is back.
            for (const reply of inFlight) reply({ ok: false, error: 'reconnecting' });
            sendBack({ type: 'CLOSE', ...details });
          }
        });
      })
      .catch((err: unknown) => {
        logger.error({ err }, 'loading auth state failed');
        if (!ended) sendBack({ type: 'CLOSE', statusCode: undefined, message: 'auth state unavailable' });
      });

    receive((command) => {
      const current = sock;
      if (command.type === 'PRESENCE') {
        current
          ?.sendPresenceUpdate(command.typing ? 'composing' : 'paused', command.to)
          .catch((err: unknown) => logger.debug({ err }, 'presence update failed'));
        return;
      }
      if (command.type === 'UNLINK') {
        if (!current) return command.reply({ ok: true });
        current.logout().then(
          () => command.reply({ ok: true }),
          (cause: unknown) => command.reply({ ok: false, cause }),
        );
        return;
      }
      if (!current) return command.reply({ ok: false, error: 'not-connected' });
      if (command.type === 'CALL') {
        command.run(current).then(
          (value) => command.reply({ ok: true, value }),
          (cause: unknown) => command.reply({ ok: false, error: 'failed', cause }),
        );
        return;
      }
      const reply: SendCommand['reply'] = (result) => {
        if (!inFlight.delete(reply)) return;
        command.reply(result);
      };
      inFlight.add(reply);
      // A file goes on its own: its upload must not hold the key lock for the texts beside it.
      if (command.outgoing?.file) return void sendTogether(current, [{ command, reply }]);
      if (!together || together.sock !== current) {
        const batch = { sock: current, sends: [] as Batched[] };
        together = batch;
        setImmediate(() => {
          if (together === batch) together = undefined;
          void sendTogether(batch.sock, batch.sends);
        });
      }
      together.sends.push({ command, reply });
    });

    return () => {
      ended = true;
      for (const reply of inFlight) reply({ ok: false, error: 'not-connected' });
      if (sock) deps.onEnding?.(sock.end(undefined));
    };
  });

/**
 * Baileys sets `creds.me` to the phone a pairing code is asked for, before anyone types it, and a socket
 * with `me` logs in instead of registering. Creds never signed by a phone (no `account`) are not linked:
 * they register anew, so a code never typed (or refused) does not end the session as logged out.
 */
const forgetUntypedPairingCode = (store: AuthStore) => {
  const { creds } = store.state;
  if (creds.me && !creds.account) {
    creds.me = undefined;
    creds.pairingCode = undefined;
  }
};

/** One https agent per process for uploads to media servers signed by the simulator's CA. */
let mediaAgentOf: { ca: string; agent: HttpsAgent } | undefined;
const mediaAgent = (ca: string) => {
  if (mediaAgentOf?.ca !== ca) mediaAgentOf = { ca, agent: new HttpsAgent({ ca, keepAlive: true }) };
  return mediaAgentOf.agent;
};

type Batched = { command: SendCommand; reply: SendCommand['reply'] };

/**
 * Sends several messages with one commit of their keys: each is encrypted in turn inside one key-store
 * transaction, and their stanzas leave, in order, once it has committed (Baileys' `afterCommit`,
 * patches/). One session's sends are otherwise one commit each, under the key lock, which caps its rate.
 * A single one goes as it always did, in a transaction of its own.
 */
const sendTogether = async (sock: WASocket, sends: Batched[]) => {
  if (sends.length === 1) {
    const [{ command, reply }] = sends as [Batched];
    return send(sock, command).then(reply, (cause: unknown) =>
      reply({ ok: false, error: 'send-failed', cause }),
    );
  }
  // The numbers first: a query to WhatsApp must not hold the key lock.
  const onWhatsApp = await Promise.all(
    sends.map(({ command }) => isOnWhatsApp(sock, command.to).catch((cause: unknown) => cause)),
  );
  const results: SendResult[] = [];
  try {
    await sock.authState.keys.transaction(async () => {
      // First of what runs after the commit, before the stanzas' sends.
      await sock.authState.keys.afterCommit(async () => writeTogether(sock));
      for (const [i, { command }] of sends.entries()) {
        const known = onWhatsApp[i];
        if (known !== true) {
          results[i] =
            known === false
              ? { ok: false, error: 'not-on-whatsapp' }
              : { ok: false, error: 'send-failed', cause: known };
          continue;
        }
        results[i] = await sendMessage(sock, command).catch((cause: unknown) => ({
          ok: false as const,
          error: 'send-failed' as const,
          cause,
        }));
      }
    }, sock.authState.creds.me?.id ?? '');
  } catch (cause) {
    // The commit, or a stanza after it, failed: which ones left is not known. They stay queued and go
    // again, under the same ids, once the session is back.
    for (const [i, result] of results.entries()) {
      if (result.ok) results[i] = { ok: false, error: 'reconnecting', cause };
    }
  }
  for (const [i, { reply }] of sends.entries()) reply(results[i] ?? { ok: false, error: 'send-failed' });
};

/**
 * Holds the socket's writes until the end of this tick: the stanzas a commit releases (their sends are
 * started together, patches/) leave in one write, one system call and one wake-up of WhatsApp's side,
 * rather than one each. On a busy host each of those writes could hand the CPU to the process it woke.
 */
export const writeTogether = (sock: WASocket) => {
  // Baileys' WebSocketClient keeps the `ws` socket, which keeps the TCP one.
  const tcp = (sock.ws as unknown as { socket?: { _socket?: Socket } | null }).socket?._socket;
  if (!tcp || tcp.destroyed) return;
  tcp.cork();
  process.nextTick(() => tcp.uncork());
};

/**
 * Sends a text under the id the outbox gave it (a resend after a crash carries the same one, so the
 * recipient shows it once), after checking the number is on WhatsApp (Baileys would otherwise send to no
 * device and report success).
 */
const send = async (sock: WASocket, command: SendCommand) => {
  if (!(await isOnWhatsApp(sock, command.to)))
    return { ok: false as const, error: 'not-on-whatsapp' as const };
  return sendMessage(sock, command);
};

/** Baileys' sendMessage for a command whose recipient is known to be on WhatsApp. */
const sendMessage = async (sock: WASocket, command: SendCommand): Promise<SendResult> => {
  const { content, options } = command.outgoing
    ? baileysMessage(command.outgoing)
    : { content: { text: command.text }, options: {} };
  const message = await sock.sendMessage(command.to, content, { ...options, messageId: command.id });
  if (!message) return { ok: false as const, error: 'send-failed' as const };
  return { ok: true as const, message };
};

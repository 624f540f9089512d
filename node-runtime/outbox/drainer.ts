// One session's outbox, drained by the host that runs the session: queued messages go out in queue
// order (per chat; a chat waiting out its own gap does not hold up the others), paced like a careful
// person, each under the WhatsApp id it was given when queued. A message whose hand-over was cut short
// (the socket closed, the host died) is sent again under the same id, and the recipient shows it once.

import type { Kysely } from 'kysely';
import type { Logger } from 'pino';
import { setNewest } from '../../shared/bounded-map.js';
import type { Database } from '../../shared/db-schema.js';
import type { MessageStatus } from '../../shared/events.js';
import type { OutgoingContent } from '../../shared/message-content.js';
import { type Pacing, SEND_FAILURES } from '../../shared/outbox.js';
import { type Fence, LeaseLostError, lostLease } from '../db/lease-fence.js';
import type { SessionJournal } from '../events/journal.js';
import type { SendResult } from '../session/machine.js';
import { sentFileOf } from '../wa/messages.js';
import { MissingFileError } from '../wa/outgoing.js';
import {
  type Claim,
  type ClaimSize,
  claimNext,
  type Lease,
  pacingOf,
  type Queued,
  recordNextSend,
  unclaim,
} from './queries.js';

/** Where the session stands for sending: its socket is open, it is on its way back, or it never will be. */
export type SendReadiness = 'connected' | 'waiting' | 'logged-out';

/** How a message sent through `/api/send` ended, as far as the caller waits. */
export type Outcome = { status: MessageStatus; failure: string | null };

/** A failed hand-over is tried again this many times (with a growing pause) before the message fails. */
const MAX_ATTEMPTS = 5;
/** Messages claimed per look at the queue when nothing paces them. */
const CLAIM_BATCH = 8;

const isUnpaced = (p: Pacing) =>
  p.minIntervalMs === 0 && p.jitterMs === 0 && p.typingMs === 0 && p.perChatMinIntervalMs === 0;
/** How many outcomes no one asked for yet are kept (a few sends in flight need a handful). */
const UNCLAIMED_OUTCOMES = 256;
/** How long after `/api/send` asks for a message the outbox is woken if it has not taken it (see `outcome`). */
const UNTAKEN_WAKE_MS = 100;
/** How often an outbox whose session is away fails what expired (or, logged out, what is queued). */
const AWAY_RECHECK_MS = 60_000;

export type OutboxDeps = {
  db: Kysely<Database>;
  sessionId: string;
  journal: SessionJournal;
  logger: Logger;
  /** Hands a message to the session's socket. */
  send(message: {
    id: string;
    to: string;
    kind: string;
    text: string | null;
    content: OutgoingContent;
  }): Promise<SendResult>;
  /** Shows "typing…" (or stops it) in a chat; best effort. */
  presence(to: string, typing: boolean): Promise<void>;
  readiness(): SendReadiness;
  /** The deployment's pacing, for a session whose admin set none (theirs is read with the queue). */
  defaultPacing: Pacing;
  /** The host's leases: nothing is claimed once another host owns the session. */
  fence?: Fence;
  now?: () => number;
  random?: () => number;
};

export class SessionOutbox {
  private running = false;
  private loop: Promise<void> | undefined;
  private wakeUp: (() => void) | undefined;
  /** Woken before the loop slept: do not sleep through it. */
  private woken = false;
  /** Asleep with nothing to do (rather than waiting out a gap). */
  private idle = false;
  private lastSentAt = 0;
  /** This gap's jitter, drawn once per send so that waking up again does not redraw it. */
  private jitter: number | undefined;
  /** The next send time last written for the admin (undefined: not written yet). */
  private recordedNextAt: number | null | undefined;
  /** The chats sent to within their own gap (older ones are dropped as they pass). */
  private readonly chatSentAt = new Map<string, number>();
  /** The admin's pacing for the session, as last read (undefined: the deployment's default). */
  private pacing: Pacing | undefined;
  /** `pacing` was read by the claim just made: no need to read it again before the next gap. */
  private pacingJustRead = false;
  /** The last look at the queue found more that could go. */
  private backlog = false;
  /**
   * Handed to WhatsApp by this outbox and not acknowledged yet: still `queued` in the table, but not to be
   * sent again on this connection. A new connection sends them again (the server may never have had
   * them), under the same ids.
   */
  private readonly inFlight = new Set<string>();
  /** Claimed by the look at the queue under way (or the look ahead) and not handed over yet. */
  private readonly claimed = new Set<string>();
  /** Unpaced messages are being handed over: something queued meanwhile starts the next look at once. */
  private handing = false;
  /** The next look at the queue, made while the last one's messages were handed over. */
  private ahead: Promise<Claim> | undefined;
  private readonly waiters = new Map<string, Set<(outcome: Outcome | undefined) => void>>();
  /**
   * Outcomes no one waited for yet, the latest first out: `/api/send` asks after queueing, and a busy
   * outbox may have sent the message and had its ack before the ask arrives.
   */
  private readonly unclaimedOutcomes = new Map<string, Outcome>();
  private readonly now: () => number;
  private readonly random: () => number;
  /** Unpaced, several go per look at the queue; paced, one (its gap decides when the next may go). */
  private readonly claimSize: ClaimSize;

  constructor(private readonly deps: OutboxDeps) {
    this.now = deps.now ?? Date.now;
    this.random = deps.random ?? Math.random;
    this.claimSize = { unpaced: CLAIM_BATCH, defaultUnpaced: isUnpaced(deps.defaultPacing) };
  }

  start() {
    if (this.running) return;
    this.running = true;
    this.loop = this.runUntilStopped();
  }

  /** Runs the outbox; a failure (the database is away) starts it again after a pause, never ends it. */
  private async runUntilStopped() {
    for (let delay = 100; this.running; delay = Math.min(delay * 2, 5_000)) {
      try {
        return await this.run();
      } catch (err) {
        // Refused for a lost lease: the session runs elsewhere now, and stops here.
        if (err instanceof LeaseLostError) return;
        await this.letAheadGo(); // the hand-over it was made during did not end well
        this.deps.logger.warn({ err, sessionId: this.deps.sessionId, retryInMs: delay }, 'outbox failed');
        await new Promise((resolve) => setTimeout(resolve, delay));
      }
    }
  }

  /**
   * Stops after the hand-over under way (a look made ahead is let go); those waiting for an outcome are
   * answered undefined at once.
   */
  async stop() {
    this.running = false;
    this.wake();
    await this.loop;
    await this.letAheadGo();
    for (const waiting of this.waiters.values()) for (const resolve of waiting) resolve(undefined);
    this.waiters.clear();
  }

  /** Something may be sendable now: a message was queued, the session connected. */
  wake() {
    this.woken = true;
    this.wakeUp?.();
    if (this.handing && this.running && !this.ahead) this.lookAhead();
  }

  /**
   * Starts the next look at the queue while the last one's messages are handed over, so that one
   * session's turn is not a look and a hand-over in a row. Only unpaced (no gap to wait out first, no
   * chat waiting); what it claims goes once the hand-over under way has gone well, or stays queued.
   */
  private lookAhead() {
    const lease = this.lease();
    if (lease === null) return;
    // Like any look, it sees every message committed before it starts.
    this.woken = false;
    const skip = new Set([...this.inFlight, ...this.claimed]);
    this.ahead = claimNext(this.deps.db, this.deps.sessionId, skip, [], this.claimSize, lease).then(
      (claim) => {
        for (const message of claim.messages) this.claimed.add(message.id);
        return claim;
      },
    );
    this.ahead.catch(() => {}); // taken, or let go, by the loop
  }

  /** The look made ahead, if any, is not used: what it claimed stays queued (claimed again in turn). */
  private async letAheadGo() {
    const ahead = this.ahead;
    this.ahead = undefined;
    const claim = await ahead?.catch(() => undefined);
    for (const message of claim?.messages ?? []) this.claimed.delete(message.id);
    if (claim) await this.unclaim(claim.messages);
  }

  /** Claimed but never handed over: their attempts are taken back (best effort; they stay queued). */
  private async unclaim(messages: readonly Queued[]) {
    const lease = this.lease();
    if (messages.length === 0 || lease === null) return;
    const ids = messages.map((message) => message.id);
    await unclaim(this.deps.db, this.deps.sessionId, ids, lease).catch((err: unknown) => {
      this.deps.logger.warn({ err, sessionId: this.deps.sessionId }, 'taking back unsent attempts failed');
    });
  }

  /**
   * Maybe something was queued that no one woke this outbox for: wakes it only if it sleeps for want of
   * work (one waiting out its pacing is left alone).
   */
  nudge() {
    if (this.idle) this.wake();
  }

  /** The session (re)connected: what was handed over but never acknowledged goes again. */
  connected() {
    this.inFlight.clear();
    // The look ahead skipped what was in flight, which goes again now: it is let go before the next look,
    // which would otherwise skip what it claimed too, and leave that queued with the outbox asleep.
    void this.letAheadGo().then(() => this.wake());
  }

  /** An outbound message's status moved (told by the journal after commit). */
  settled(id: string, status: MessageStatus, failure: string | null) {
    if (status === 'queued') return;
    this.inFlight.delete(id);
    const waiting = this.waiters.get(id);
    if (!waiting) {
      setNewest(this.unclaimedOutcomes, id, { status, failure }, UNCLAIMED_OUTCOMES);
      return;
    }
    this.waiters.delete(id);
    for (const resolve of waiting) resolve({ status, failure });
  }

  /** Waits until the message left (the server's ack) or failed; undefined if that takes past `timeoutMs`. */
  outcome(id: string, timeoutMs: number): Promise<Outcome | undefined> {
    const known = this.unclaimedOutcomes.get(id);
    if (known) {
      this.unclaimedOutcomes.delete(id);
      return Promise.resolve(known);
    }
    return new Promise((resolve) => {
      const waiting = this.waiters.get(id) ?? new Set();
      const timer = setTimeout(() => {
        waiting.delete(done);
        resolve(undefined);
      }, timeoutMs);
      // `/api/send` asks once its message is queued: the notification has usually woken the outbox, and
      // its look (under way, or the next) takes the message. A wake at the ask was mostly one more look
      // that found nothing; one a moment later, for a message still not taken, is the net for a lost
      // notification. An outbox waiting out a gap or a failure's pause looks when that ends.
      const untaken = setTimeout(() => {
        if (this.claimed.has(id) || this.inFlight.has(id)) return;
        if (!this.wakeUp || this.idle) this.wake();
      }, UNTAKEN_WAKE_MS);
      const done = (outcome: Outcome | undefined) => {
        clearTimeout(timer);
        clearTimeout(untaken);
        resolve(outcome);
      };
      waiting.add(done);
      this.waiters.set(id, waiting);
    });
  }

  private async run() {
    while (this.running) {
      const readiness = this.deps.readiness();
      if (readiness === 'logged-out') {
        await this.deps.journal.failQueued(SEND_FAILURES.loggedOut);
        await this.sleep(AWAY_RECHECK_MS);
        continue;
      }
      if (readiness !== 'connected') {
        await this.deps.journal.failExpired(SEND_FAILURES.expired, new Date(this.now()));
        await this.sleep(AWAY_RECHECK_MS);
        continue;
      }
      // The session's own gap first: nothing is claimed before it has passed.
      this.jitter ??= this.random();
      let sessionAt = this.sessionAt();
      if (sessionAt > this.now() && !this.pacingJustRead) {
        // Woken while waiting out a gap: the admin may have changed it (a shorter one applies now).
        this.pacing = (await pacingOf(this.deps.db, this.deps.sessionId)) ?? undefined;
        sessionAt = this.sessionAt();
      }
      this.pacingJustRead = false;
      if (sessionAt > this.now()) {
        if (this.backlog) await this.recordNextSend(sessionAt);
        await this.sleep(sessionAt - this.now());
        continue; // the queue or the session may have changed meanwhile
      }
      const waiting = this.waitingChats(this.pacing ?? this.deps.defaultPacing);
      const lease = this.lease();
      if (lease === null) return;
      const ahead = this.ahead;
      this.ahead = undefined;
      // The claim sees every message committed before it starts: a wake from here on means one after it.
      if (!ahead) this.woken = false;
      const claim = await (ahead ??
        claimNext(
          this.deps.db,
          this.deps.sessionId,
          this.inFlight,
          [...waiting.keys()],
          this.claimSize,
          lease,
        ));
      if (!claim.held) {
        if (this.deps.fence) lostLease(this.deps.fence, this.deps.sessionId);
        return;
      }
      // Read with each claim (which claimed as many as it allows): a change by the admin applies from the
      // gap after this message on.
      this.pacing = claim.pacing ?? undefined;
      this.pacingJustRead = true;
      const pacingNow = claim.pacing ?? this.deps.defaultPacing;
      this.backlog = claim.more || claim.waitingWithQueued.length > 0;
      for (const message of claim.messages) this.claimed.add(message.id);
      if (claim.messages.length > 0) {
        let delivered = 0;
        // Unpaced, the next look may start while these are handed over: at once if this one saw more.
        this.handing = isUnpaced(pacingNow);
        if (this.handing && claim.more) this.lookAhead();
        try {
          // A file is read before it is handed over, so a claim with one goes a message at a time (in order).
          if (claim.messages.length > 1 && claim.messages.every((message) => !message.content.media)) {
            // Unpaced, what was claimed is handed over at once: the socket encrypts it in order and commits
            // its keys once for all. Every outcome is then taken, whatever the one before it was.
            const handed = claim.messages.map((message) => {
              if (this.expired(message)) return undefined;
              const result = this.handOver(message);
              result.catch(() => {}); // taken in turn below
              return result;
            });
            let failed = false;
            for (const [i, message] of claim.messages.entries()) {
              const went = await this.deliver(message, pacingNow, { handed: handed[i], mayWait: !failed });
              if (went) delivered++;
              failed ||= !went;
            }
          } else {
            for (const [i, message] of claim.messages.entries()) {
              // In order: after one that did not go, the rest wait (they are claimed again, in order).
              const went = await this.deliver(message, pacingNow);
              if (went) delivered++;
              if (!went || !this.running || this.deps.readiness() !== 'connected') {
                await this.unclaim(claim.messages.slice(i + 1));
                break;
              }
            }
          }
        } finally {
          // Handed over (in flight now), failed, or queued again: no longer in hand (what the look ahead
          // claimed still is).
          for (const message of claim.messages) this.claimed.delete(message.id);
          this.handing = false;
        }
        // One did not go (it is first in the queue again), or the session went: the look made ahead
        // would send what follows it first.
        if (delivered < claim.messages.length || !this.running || this.deps.readiness() !== 'connected') {
          await this.letAheadGo();
        }
        // Every one went, the claim saw nothing else, and nothing was queued since (that wakes the
        // outbox): no second look, which for messages sent one at a time was a statement each for nothing.
        const done =
          delivered === claim.messages.length && !claim.more && claim.waitingWithQueued.length === 0;
        if (done && !this.woken && !this.ahead) {
          await this.recordNextSend(null);
          await this.sleep();
        }
        continue;
      }
      // Nothing can go now: sleep until a waiting chat's gap has passed, or until woken.
      const at = Math.min(...claim.waitingWithQueued.map((chat) => waiting.get(chat) ?? Infinity));
      if (Number.isFinite(at)) {
        await this.recordNextSend(at);
        await this.sleep(Math.max(0, at - this.now()));
      } else {
        await this.recordNextSend(null);
        await this.sleep();
      }
    }
  }

  /** When the session's gap after its last send ends. */
  private sessionAt(): number {
    const pacing = this.pacing ?? this.deps.defaultPacing;
    return this.lastSentAt + pacing.minIntervalMs + (this.jitter ?? 0) * pacing.jitterMs;
  }

  /** The chats still waiting out their own gap since their last send, with when it ends. */
  private waitingChats(pacing: Pacing): Map<string, number> {
    const waiting = new Map<string, number>();
    const now = this.now();
    for (const [chat, sentAt] of this.chatSentAt) {
      const at = sentAt + pacing.perChatMinIntervalMs;
      if (at > now) waiting.set(chat, at);
      else this.chatSentAt.delete(chat); // past its gap: no longer needed
    }
    return waiting;
  }

  /**
   * Hands over a message claimed for it (its attempt already counted). False when it is still queued
   * (the session went away, a passing failure): the messages behind it must wait.
   */
  private async deliver(
    message: Queued,
    pacing: Pacing,
    batch?: { handed: Promise<SendResult> | undefined; mayWait: boolean },
  ): Promise<boolean> {
    const { journal } = this.deps;
    if (!batch?.handed && this.expired(message)) {
      await journal.status(message.id, 'failed', new Date(), SEND_FAILURES.expired);
      return true;
    }
    if (pacing.typingMs > 0 && !batch) {
      await this.deps.presence(message.chatJid, true);
      await this.sleep(pacing.typingMs);
      // Claimed but not handed over: still queued, it goes once the session is back.
      if (!this.running || this.deps.readiness() !== 'connected') {
        await this.unclaim([message]);
        return false;
      }
    }
    const result = await (batch?.handed ?? this.handOver(message));
    this.lastSentAt = this.now();
    this.jitter = undefined;
    this.chatSentAt.set(message.chatJid, this.lastSentAt);
    if (pacing.typingMs > 0) void this.deps.presence(message.chatJid, false);
    if (result.ok) {
      this.inFlight.add(message.id); // `sent` comes with the server's ack
      const file = message.content.media ? sentFileOf(result.message.message) : undefined;
      if (file) await journal.keepSentFile(message.id, file);
      return true;
    }
    switch (result.error) {
      case 'not-on-whatsapp':
        await journal.status(message.id, 'failed', new Date(), SEND_FAILURES.notOnWhatsApp);
        return true;
      case 'not-connected':
      case 'reconnecting':
        return false; // still queued: it goes, under the same id, once the session is back
      default:
        // A file that is gone does not come back by trying again.
        if (message.attempts + 1 >= MAX_ATTEMPTS || result.cause instanceof MissingFileError) {
          const cause =
            result.cause instanceof Error ? result.cause.message : String(result.cause ?? result.error);
          await journal.status(
            message.id,
            'failed',
            new Date(),
            `sending failed ${MAX_ATTEMPTS} times: ${cause}`,
          );
          return true;
        }
        // In a batch, the first failure waits for all.
        if (batch?.mayWait !== false) await this.sleep(1_000 * 2 ** message.attempts);
        return false;
    }
  }

  private expired(message: Queued): boolean {
    return !!message.expiresAt && message.expiresAt.getTime() <= this.now();
  }

  /** Gives the message to the session's socket. */
  private handOver(message: Queued): Promise<SendResult> {
    return this.deps.send({
      id: message.id,
      to: message.chatJid,
      kind: message.kind,
      text: message.text,
      content: message.content,
    });
  }

  /** Shows the admin when the next message may go; written only when that changes. */
  private async recordNextSend(at: number | null) {
    if (at === this.recordedNextAt) return;
    const lease = this.lease();
    if (lease === null) return;
    await recordNextSend(this.deps.db, this.deps.sessionId, at === null ? null : new Date(at), lease);
    this.recordedNextAt = at;
  }

  /** The lease writes are fenced by: undefined when unfenced, null once this host no longer holds it. */
  private lease(): Lease | undefined | null {
    const fence = this.deps.fence;
    if (!fence) return undefined;
    const epoch = fence.epochOf(this.deps.sessionId);
    return epoch === undefined ? null : { hostId: fence.hostId, epoch };
  }

  /**
   * Sleeps until woken, or for `ms` when given. A connected outbox with nothing to send sleeps until
   * woken: PostgreSQL's notification on commit does that, and the host's look for queued messages (one
   * statement for all its sessions) nudges an outbox that missed one. A timed look per outbox would
   * keep a pool's connections open at rest (hundreds of sessions looking in waves).
   */
  private sleep(ms?: number) {
    if (this.woken || !this.running) {
      this.woken = false;
      return Promise.resolve();
    }
    this.idle = ms === undefined;
    return new Promise<void>((resolve) => {
      // A timed sleep looks again within a minute (a pacing gap the admin shortened applies then).
      const timer = ms === undefined ? undefined : setTimeout(done, Math.min(ms, 60_000));
      const self = this;
      function done() {
        clearTimeout(timer);
        self.wakeUp = undefined;
        self.woken = false;
        self.idle = false;
        resolve();
      }
      this.wakeUp = done;
    });
  }
}

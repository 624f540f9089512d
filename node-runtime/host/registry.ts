import { randomUUID } from 'node:crypto';
import type { Kysely } from 'kysely';
import { sql } from 'kysely';
import type { Logger } from 'pino';
import { setDraining } from '../../edge/hosts/queries/hosts.js';
import type { Database } from '../../shared/db-schema.js';
import { fromNow } from '../db/clock.js';
import { StartupError } from '../startup-error.js';
import { ownedLeases } from './handover.js';
import type { WhatsAppReachability } from './whatsapp-probe.js';

/** How long a host holds its sessions without renewing: after this, live hosts may claim them. */
export const DEFAULT_LEASE_MS = 6_000;

/** The sessions this host owns as the database says, by id, with their lease epochs. */
export type Owned = Map<string, string>;

/** What one renewal found; `since` is when the owned sessions were read (performance.now()). */
/**
 * What a renewal read: the sessions owned, whether this host drains, when that was (this process's
 * clock), and in how many ms the soonest lease of another live host lapses (none: undefined).
 */
export type Beat = { owned: Owned; draining: boolean; since: number; nextLapseMs?: number };

const reachabilityColumns = (r: WhatsAppReachability) => ({
  whatsapp: r.status,
  whatsapp_error: r.status === 'unreachable' ? r.error : null,
  whatsapp_checked_at: r.status === 'unknown' ? null : r.checkedAt,
});

export type HostRegistration = {
  id: string;
  internalUrl: string;
  maxSessions?: number | undefined;
  /** How long the lease lasts unrenewed (default DEFAULT_LEASE_MS); renewed every third of it. */
  leaseMs?: number;
};

export type LeaseEvents = {
  /** After each renewal: what this host owns now, and whether an operator drains it. */
  onBeat?: (beat: Beat) => void;
  /**
   * The lease is about to lapse unrenewed (database away, process paused): stop every socket now, before
   * another host may claim the sessions.
   */
  onFence?: () => void;
  /** Another process took this host id (after our lease lapsed): this one must run nothing more. */
  onLost?: () => void;
};

/**
 * Registers this host in the hosts table under a fresh instance id and holds its lease: renewed every
 * third of `leaseMs`, and given up (`onFence`) a safety margin before it could lapse, measured on this
 * process's own monotonic clock from when the renewal was sent. The row outlives a restart (the host's
 * sessions stay assigned to it until claimed). A host id whose lease another live process holds is
 * refused once that lease has had time to lapse (a killed process's does).
 */
export const registerHost = async (
  db: Kysely<Database>,
  host: HostRegistration,
  logger: Logger,
  events: LeaseEvents = {},
) => {
  const leaseMs = host.leaseMs ?? DEFAULT_LEASE_MS;
  const renewMs = Math.max(Math.floor(leaseMs / 3), 50);
  // Stop the sockets with a renewal's time to spare: the lease's end is counted from the database's clock.
  const fenceMarginMs = Math.max(Math.floor(leaseMs / 6), 50);
  const instance = randomUUID();
  const unknown = reachabilityColumns({ status: 'unknown' });
  const maxSessions = host.maxSessions ?? null;
  const claim = async () => {
    const sentAt = performance.now();
    const row = await db
      .insertInto('hosts')
      .values({
        id: host.id,
        internal_url: host.internalUrl,
        max_sessions: maxSessions,
        instance,
        lease_until: fromNow(leaseMs),
        ...unknown,
      })
      .onConflict((oc) =>
        oc
          .column('id')
          .doUpdateSet({
            internal_url: host.internalUrl,
            max_sessions: maxSessions,
            heartbeat_at: sql`now()`,
            draining: false,
            started_at: sql`now()`,
            instance,
            lease_until: fromNow(leaseMs),
            ...unknown,
          })
          .where(sql<boolean>`hosts.lease_until is null or hosts.lease_until < now()`),
      )
      .returning('id')
      .executeTakeFirst();
    return row ? sentAt : undefined;
  };
  let sentAt = await claim();
  for (const deadline = performance.now() + leaseMs + renewMs; sentAt === undefined; ) {
    if (performance.now() > deadline) {
      throw new StartupError(
        `host id ${host.id} is in use by a running host (its lease keeps being renewed): give this host another HOST_ID`,
      );
    }
    logger.info({ hostId: host.id }, 'waiting for the lease of an earlier process with this host id');
    await new Promise((resolve) => setTimeout(resolve, renewMs));
    sentAt = await claim();
  }
  let validUntil = sentAt + leaseMs;
  let fenced = false;
  let lost = false;
  let fenceTimer: ReturnType<typeof setTimeout> | undefined;
  const armFence = () => {
    clearTimeout(fenceTimer);
    fenceTimer = setTimeout(
      () => {
        if (fenced) return;
        fenced = true;
        logger.error({ hostId: host.id }, 'lease not renewed in time: stopping every session');
        events.onFence?.();
      },
      Math.max(validUntil - fenceMarginMs - performance.now(), 0),
    );
    fenceTimer.unref();
  };
  armFence();

  const beat = async () => {
    const started = performance.now();
    const renewed = await db
      .updateTable('hosts')
      .set({ heartbeat_at: sql`now()`, lease_until: fromNow(leaseMs) })
      .where('id', '=', host.id)
      .where('instance', '=', instance)
      .returning([
        'draining',
        // By the database's clock, so hosts' clocks need not agree.
        sql<number | null>`(select (extract(epoch from min(h.lease_until) - now()) * 1000)::float8
          from hosts h where h.id <> ${host.id} and h.lease_until > now())`.as('next_lapse_ms'),
      ])
      .executeTakeFirst();
    if (!renewed) {
      if (!lost) logger.error({ hostId: host.id }, 'another process took this host id: running nothing more');
      lost = true;
      clearTimeout(fenceTimer);
      events.onLost?.();
      return;
    }
    validUntil = started + leaseMs;
    fenced = false;
    armFence();
    const since = performance.now();
    const owned = await ownedLeases(db, host.id);
    const nextLapseMs = renewed.next_lapse_ms === null ? undefined : Math.max(renewed.next_lapse_ms, 0);
    events.onBeat?.({ owned, draining: renewed.draining, since, nextLapseMs });
  };
  // One renewal at a time: while the database is away a renewal waits for a connection, and the ticks
  // meanwhile add nothing to that wait.
  let beating: Promise<void> | undefined;
  const renew = () => {
    if (beating) return beating;
    // A renewal stuck on a connection that will never answer (a partition drops packets, no reset) is
    // given up after a lease, so the next one can try on a fresh connection.
    let giveUp: ReturnType<typeof setTimeout> | undefined;
    const stuck = new Promise<never>((_, reject) => {
      giveUp = setTimeout(() => reject(new Error('renewal got no answer within a lease')), leaseMs);
    });
    beating = Promise.race([beat(), stuck])
      .catch((err: unknown) => logger.warn({ err }, 'renewing the lease failed'))
      .finally(() => {
        clearTimeout(giveUp);
        beating = undefined;
      });
    return beating;
  };
  const timer = setInterval(() => {
    if (!lost) void renew();
  }, renewMs);
  timer.unref();
  const stop = () => {
    clearInterval(timer);
    clearTimeout(fenceTimer);
    return beating;
  };
  return {
    instance,
    /** Whether the lease holds now, by this process's clock. */
    get held() {
      return !lost && !fenced && performance.now() < validUntil - fenceMarginMs;
    },
    /** Renews now rather than at the next tick (a session was handed here: it starts at once). */
    renew,
    /** Records whether this host can reach WhatsApp, for /health; logged when it changes. */
    async reportWhatsApp(reachability: WhatsAppReachability) {
      if (reachability.status === 'unreachable') {
        logger.warn({ error: reachability.error }, 'cannot reach WhatsApp');
      } else logger.info({ whatsapp: reachability.status }, 'WhatsApp reachable');
      await db
        .updateTable('hosts')
        .set(reachabilityColumns(reachability))
        .where('id', '=', host.id)
        .execute()
        .catch((err: unknown) => logger.warn({ err }, 'recording WhatsApp reachability failed'));
    },
    /** Marks the host draining (SIGTERM), as an operator's drain does: nothing new is placed here. */
    async drain() {
      await setDraining(db, host.id, true);
    },
    /** Stops renewing; call `release` once the sessions are stopped. */
    stop,
    /**
     * Gives the lease up (its sockets are closed): live hosts may claim what is left at once, rather
     * than a lease later.
     */
    async release() {
      await stop();
      await db
        .updateTable('hosts')
        .set({ lease_until: sql`now()`, draining: true })
        .where('id', '=', host.id)
        .where('instance', '=', instance)
        .execute();
    },
  };
};

export type Registration = Awaited<ReturnType<typeof registerHost>>;

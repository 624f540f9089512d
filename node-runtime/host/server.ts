import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { serve } from '@hono/node-server';
import type { Kysely } from 'kysely';
import type { Logger } from 'pino';
import type { Database } from '../../shared/db-schema.js';
import type { Pacing } from '../../shared/outbox.js';
import { SecretBox } from '../../shared/webhook-secrets.js';
import { hostConnectionName, type Listener, poolUsage } from '../db/connect.js';
import { keepRetention } from '../events/retention.js';
import { serveCalls } from '../host-calls/server.js';
import { MediaDownloader } from '../media/url-fetch.js';
import { holdMemoryGiveBack } from '../memory/give-back.js';
import { HostMetrics } from '../metrics/host-metrics.js';
import { OUTBOX_CHANNEL } from '../outbox/queries.js';
import { StartupError } from '../startup-error.js';
import { applyTrustRoot, resolveWaVersion, type WaConnection } from '../wa/socket-actor.js';
import { WebhookPoster } from '../webhooks/http.js';
import { hearWebhookNotices } from '../webhooks/notices.js';
import type { RetryPolicy } from '../webhooks/schedule.js';
import { WebhookWorker } from '../webhooks/worker.js';
import { createHostApp } from './app.js';
import { HANDOVER_CHANNEL, ownedLeases } from './handover.js';
import { type Beat, DEFAULT_LEASE_MS, type Registration, registerHost } from './registry.js';
import { SessionHost } from './sessions.js';
import { watchWhatsApp } from './whatsapp-probe.js';

export type HostOptions = {
  db: Kysely<Database>;
  /**
   * The lease's own connections (default: `db`'s): a renewal must not wait in line behind the sessions'
   * writes, or a busy host would miss its lease and stop every session.
   */
  leaseDb?: Kysely<Database>;
  hostId: string;
  /** Port for the internal API; 0 picks a free one. */
  port: number;
  /** Interface to listen on; hosts are not meant to face the internet. */
  listen?: string;
  /** URL the edge uses to reach this host; default http://<listen>:<port>. */
  internalUrl?: string;
  secret: string;
  wa: WaConnection;
  logger: Logger;
  /** How often to check that WhatsApp is reachable (default 30 s). */
  whatsappCheckMs?: number;
  /**
   * Delivering webhooks: the key their secrets are encrypted with, whether private URLs may be used, and
   * a database pool of the worker's own (so a host busy writing messages does not starve deliveries;
   * default `db`).
   */
  webhooks?: { secretKey: Uint8Array; allowPrivate: boolean; policy?: RetryPolicy; db?: Kysely<Database> };
  /** Messages and events older than this many days are purged (default 30). */
  retentionDays?: number;
  /** Pacing of sessions whose tenant admin set none (default DEFAULT_PACING; tests lower it). */
  pacing?: Pacing;
  /** How often the host looks for queued messages nobody woke it for (default 2 s). */
  outboxPollMs?: number;
  /** Media URLs may point at private addresses (MEDIA_URL_ALLOW_PRIVATE; development and tests). */
  mediaAllowPrivate?: boolean;
  /** How many sessions the edge places here (HOST_MAX_SESSIONS); default no limit. */
  maxSessions?: number;
  /** How long the host's lease lasts unrenewed (default DEFAULT_LEASE_MS; tests shorten it). */
  leaseMs?: number;
  /**
   * NOTIFY from the database: a session handed to this host starts at once, not at the next renewal, and
   * messages queued for its sessions go at once. Without it, handed sessions start within a third of the
   * lease, and queued messages wait for the outboxes' next regular look (every 2 s).
   */
  listener?: Listener;
};

/**
 * How long the host keeps an idle keep-alive connection open. Set here rather than left to Node's default
 * (which has changed between versions), because the edge's connection pool must close idle connections
 * before the host does (edge/entries/node.ts, HOST_CONNECTION_IDLE_MS): the host announces it in
 * `Keep-Alive: timeout=10`, and Node closes the socket a `keepAliveTimeoutBuffer` (1 s) later still.
 */
export const HOST_KEEP_ALIVE_TIMEOUT_MS = 10_000;

/**
 * How long a request's headers may take to arrive. Kept above the keep-alive timeout, as Node's own
 * defaults are (60 s over 5 s): older Node versions measured it from the start of the connection, where
 * a lower value cut kept-alive connections short. The edge's headers take microseconds.
 */
export const HOST_HEADERS_TIMEOUT_MS = 15_000;

export const DEFAULT_RETENTION_DAYS = 30;

export type RunningHost = {
  url: string;
  /** The internal API without the network, for an edge in the same process (refused once closing). */
  fetch(request: Request): Promise<Response>;
  sessions: SessionHost;
  /**
   * Stops the host. With `drainMs`, its sessions are first handed to other live hosts one by one, for
   * at most that long; the rest stop here and are claimed as soon as the lease is released.
   */
  close(options?: { drainMs?: number }): Promise<void>;
};

const mib = (bytes: number) => Math.round(bytes / 2 ** 20);

/** Starts a session host: internal API, registration and heartbeat, and resumes its linked sessions. */
export const startHost = async (opts: HostOptions): Promise<RunningHost> => {
  applyTrustRoot(opts.wa.trustRoot);
  const logger = opts.logger.child({ hostId: opts.hostId });
  const wa = await resolveWaVersion(opts.wa, logger);
  const metrics = new HostMetrics();
  const webhooks = opts.webhooks && {
    poster: new WebhookPoster({ allowPrivate: opts.webhooks.allowPrivate }),
    policy: opts.webhooks.policy,
    secrets: new SecretBox(opts.webhooks.secretKey),
  };
  const worker =
    webhooks &&
    new WebhookWorker({
      db: opts.webhooks?.db ?? opts.db,
      owner: opts.hostId,
      logger: logger.child({ component: 'webhooks' }),
      ...webhooks,
      onAttempt: (outcome, seconds) => {
        metrics.webhookDeliveries.inc({ outcome });
        metrics.webhookSeconds.observe({ outcome }, seconds);
      },
    });
  const downloader = new MediaDownloader({
    allowPrivate: opts.mediaAllowPrivate ?? false,
    extraCa: wa.mediaCa,
  });
  let registration: Registration | undefined;
  const sessions = new SessionHost({
    db: opts.db,
    hostId: opts.hostId,
    wa,
    logger,
    onEvent: (tenantId) => worker?.wake(tenantId),
    pacing: opts.pacing,
    downloader,
    // Nothing starts before the host holds its lease, nor once it could not renew it.
    leaseHeld: () => registration?.held ?? false,
    metrics,
  });
  metrics.observe({
    sessionStates: () => sessions.stateCounts(),
    outboxDepth: () => sessions.queuedCount(),
    pools: () =>
      [
        { pool: 'sessions', usage: poolUsage(opts.db) },
        { pool: 'lease', usage: opts.leaseDb && poolUsage(opts.leaseDb) },
      ].flatMap(({ pool, usage }) => (usage ? [{ pool, ...usage }] : [])),
  });
  const app = createHostApp({ sessions, hostId: opts.hostId, secret: opts.secret, logger, metrics });
  const listen = opts.listen ?? '127.0.0.1';
  const server = serve({
    fetch: app.fetch,
    port: opts.port,
    hostname: listen,
    serverOptions: { keepAliveTimeout: HOST_KEEP_ALIVE_TIMEOUT_MS, headersTimeout: HOST_HEADERS_TIMEOUT_MS },
  });
  await new Promise<void>((resolve, reject) => {
    server.once('listening', resolve);
    server.once('error', reject);
  }).catch(async (err: unknown) => {
    await sessions.stopAll();
    if ((err as NodeJS.ErrnoException).code === 'EADDRINUSE') {
      throw new StartupError(
        `port ${opts.port} is already in use (is a host running already?): stop what holds it, or set HOST_PORT`,
        { cause: err },
      );
    }
    throw err;
  });
  const { port } = server.address() as AddressInfo;
  const url = opts.internalUrl ?? `http://${listen}:${port}`;
  // Requests from an edge in this process (npm start), refused like a closed port once the server closes.
  let serving = true;
  const fetchInProcess = async (request: Request): Promise<Response> => {
    if (!serving) throw new TypeError('fetch failed: the session host has stopped');
    return app.fetch(request);
  };
  // The edge's calls over its kept channels, handed to the app the same way.
  const calls = serveCalls(server as Server, async (request) => app.fetch(request), logger);
  // Draining (by an operator, or SIGTERM): one hand-off run at a time, stopped when undrained.
  let drainWanted = false;
  let stoppingDrain = false;
  let drainUntil = Number.POSITIVE_INFINITY;
  const keepDraining = () => (drainWanted || stoppingDrain) && performance.now() < drainUntil;
  let handingOff: Promise<number> | undefined;
  const handOff = (owned: Beat['owned']) => {
    handingOff ??= sessions
      .handOffAll(owned, keepDraining)
      .catch((err: unknown) => {
        logger.warn({ err }, 'handing sessions over failed');
        return -1;
      })
      .finally(() => {
        handingOff = undefined;
      });
    return handingOff;
  };
  // A claim the moment another host's lease lapses (it stopped renewing), rather than at the next beat.
  let claimTimer: ReturnType<typeof setTimeout> | undefined;
  const claimAtNextLapse = (ms: number | undefined) => {
    clearTimeout(claimTimer);
    // Leases that lapse after this host's next beat are looked at then.
    if (ms === undefined || ms > (opts.leaseMs ?? DEFAULT_LEASE_MS) / 3) return;
    claimTimer = setTimeout(() => {
      if (!drainWanted)
        void sessions
          .takeOrphans()
          .catch((err: unknown) => logger.warn({ err }, 'taking over sessions failed'));
    }, ms + 20);
    claimTimer.unref();
  };
  const onBeat = async (beat: Beat) => {
    drainWanted = beat.draining;
    await sessions.reconcile(beat);
    if (beat.draining) void handOff(beat.owned);
    else {
      await sessions.takeOrphans();
      // Counted from the renewal that read it.
      claimAtNextLapse(
        beat.nextLapseMs === undefined
          ? undefined
          : Math.max(beat.nextLapseMs - (performance.now() - beat.since), 0),
      );
    }
  };
  registration = await registerHost(
    opts.leaseDb ?? opts.db,
    { id: opts.hostId, internalUrl: url, maxSessions: opts.maxSessions, leaseMs: opts.leaseMs },
    logger,
    {
      onBeat: (beat) =>
        void onBeat(beat).catch((err: unknown) => logger.warn({ err }, 'taking assigned sessions failed')),
      onFence: () => sessions.fenceAll(),
      onLost: () => sessions.fenceAll(),
    },
  ).catch(async (err: unknown) => {
    server.close();
    await sessions.stopAll();
    throw err;
  });
  const lease = registration;
  // Every session assigned here gets its actor where it was (linked ones reconnect, a few at a time).
  const resumed = await sessions.resumeOwned();
  const unlisten = await opts.listener?.listen(HANDOVER_CHANNEL, (to) => {
    if (to === opts.hostId) void lease.renew();
  });
  const unlistenOutbox = await opts.listener?.listen(OUTBOX_CHANNEL, (id) => sessions.outboxQueued(id));
  // Deliveries other hosts queued, for endpoints this host's worker may hold (its own woke it already).
  const ownWriter = hostConnectionName(opts.hostId);
  const unlistenWebhooks =
    worker && opts.listener && (await hearWebhookNotices(worker, opts.listener, ownWriter));
  sessions.watchOutboxes(opts.outboxPollMs);
  const whatsapp = watchWhatsApp({
    url: wa.wsUrl,
    intervalMs: opts.whatsappCheckMs,
    onChange: (reachability) => void registration.reportWhatsApp(reachability),
  });
  worker?.start();
  const stopRetention = keepRetention(opts.db, opts.retentionDays ?? DEFAULT_RETENTION_DAYS, logger);
  const releaseGiveBack = holdMemoryGiveBack({
    gaveBack: ({ freedBytes, pauseMs }) => {
      metrics.memoryGiveBacks.inc();
      if (freedBytes > 0) metrics.memoryGivenBack.inc(freedBytes);
      logger.info(
        { freedMiB: mib(freedBytes), pauseMs: Math.round(pauseMs) },
        'gave unused memory back to the system',
      );
    },
    sampled: ({ busy, unusedBytes, floorBytes, quietSamples }) =>
      logger.debug(
        {
          busy: Number(busy.toFixed(3)),
          unusedMiB: mib(unusedBytes),
          floorMiB: mib(floorBytes),
          quietSamples,
        },
        'memory looked at',
      ),
  });
  logger.info({ url, resumed }, 'session host started');
  return {
    url,
    fetch: fetchInProcess,
    sessions,
    async close({ drainMs }: { drainMs?: number } = {}) {
      whatsapp.stop();
      stopRetention();
      releaseGiveBack();
      clearTimeout(claimTimer);
      if (drainMs !== undefined && drainMs > 0) {
        stoppingDrain = true;
        drainUntil = performance.now() + drainMs;
        await lease.drain().catch((err: unknown) => logger.warn({ err }, 'marking the host draining failed'));
        await handingOff;
        const owned = await ownedLeases(opts.db, opts.hostId).catch(() => new Map<string, string>());
        const left = await handOff(owned);
        if (left > 0)
          logger.warn(
            { left },
            'stopping with sessions not handed over: they move once the lease is released',
          );
      }
      await unlisten?.().catch(() => undefined);
      await unlistenOutbox?.().catch(() => undefined);
      await unlistenWebhooks?.().catch(() => undefined);
      await lease.stop();
      // No new requests from here on (they would start sessions again); those under way finish.
      serving = false;
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      // The channels' calls under way finish as the connections' requests do; the server waits for both.
      const callsClosed = calls.close();
      await sessions.stopAll();
      // Every socket is closed: other hosts may take the sessions at once.
      await lease.release().catch((err: unknown) => logger.warn({ err }, 'releasing the lease failed'));
      await worker?.stop();
      await webhooks?.poster.close();
      await downloader.close();
      await callsClosed;
      await closed;
      logger.info('session host stopped');
    },
  };
};

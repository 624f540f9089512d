import { pino } from 'pino';
import { parseSecretKey } from '../../shared/webhook-secrets.js';
import { HostConfigSchema, pacingOf, parseConfig, waConnectionOf } from '../config.js';
import { closeDb, createDb, createLeaseDb, createListener, hostDbOptions } from '../db/connect.js';
import { migrateToLatest } from '../db/migrate.js';
import { reportStartFailure } from '../startup-error.js';
import { type RunningHost, startHost } from './server.js';

// A session host on its own (`npm run host`, or `tsx node-runtime/host/main.ts`), configured by the
// environment. It prints one JSON line, `{hostId, url}`, once it serves.
let host: RunningHost;
let drainMs = 0;
let closeDatabase = async () => {};
try {
  const config = parseConfig(HostConfigSchema, process.env);
  const db = createDb(config.DATABASE_URL, hostDbOptions(config.HOST_ID, config.HOST_LEASE_SECONDS));
  // The webhook worker's own connections: message writes must not starve deliveries.
  const webhookDb = createDb(config.DATABASE_URL, {
    max: 2,
    applicationName: `wa-host ${config.HOST_ID} webhooks`,
  });
  const leaseDb = createLeaseDb(config.DATABASE_URL, config.HOST_ID, config.HOST_LEASE_SECONDS);
  const listener = createListener(config.DATABASE_URL);
  drainMs = config.HOST_DRAIN_SECONDS * 1000;
  // Under an advisory lock: hosts and edges that start together migrate once.
  await migrateToLatest(db);
  closeDatabase = async () => {
    await listener.close();
    await closeDb(db);
    await closeDb(webhookDb);
    await closeDb(leaseDb);
  };
  host = await startHost({
    db,
    hostId: config.HOST_ID,
    port: config.HOST_PORT,
    listen: config.HOST_LISTEN,
    internalUrl: config.HOST_URL,
    secret: config.EDGE_HOST_SECRET,
    wa: waConnectionOf(config),
    logger: pino({ level: config.LOG_LEVEL }),
    webhooks: {
      secretKey: parseSecretKey(config.WEBHOOK_SECRET_KEY),
      allowPrivate: config.WEBHOOK_ALLOW_PRIVATE === 'true',
      db: webhookDb,
    },
    retentionDays: config.MESSAGE_RETENTION_DAYS,
    pacing: pacingOf(config),
    mediaAllowPrivate: config.MEDIA_URL_ALLOW_PRIVATE === 'true',
    maxSessions: config.HOST_MAX_SESSIONS,
    leaseMs: config.HOST_LEASE_SECONDS * 1000,
    leaseDb,
    listener,
  });
  process.stdout.write(`${JSON.stringify({ hostId: config.HOST_ID, url: host.url })}\n`);
} catch (err) {
  reportStartFailure(err);
  await closeDatabase();
  process.exit(1);
}

let stopping = false;
const stop = async (signal: NodeJS.Signals) => {
  if (stopping) return;
  stopping = true;
  // SIGTERM hands the sessions to other live hosts first; the rest end without logging out and resume
  // elsewhere once the lease is released (or here on the next start), with no new QR.
  await host.close({ drainMs: signal === 'SIGTERM' ? drainMs : 0 });
  await closeDatabase();
  process.exit(0);
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);

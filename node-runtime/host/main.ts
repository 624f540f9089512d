import { pino } from 'pino';
import { parseSecretKey } from '../../shared/webhook-secrets.js';
import { HostConfigSchema, pacingOf, parseConfig, waConnectionOf } from '../config.js';
import { closeDb, createDb } from '../db/connect.js';
import { migrateToLatest } from '../db/migrate.js';
import { reportStartFailure } from '../startup-error.js';
import { type RunningHost, startHost } from './server.js';

// A session host on its own (`npm run host`, or `tsx node-runtime/host/main.ts`), configured by the
// environment. It prints one JSON line, `{hostId, url}`, once it serves.
let host: RunningHost;
let closeDatabase = async () => {};
try {
  const config = parseConfig(HostConfigSchema, process.env);
  const db = createDb(config.DATABASE_URL);
  // The webhook worker's own connections: message writes must not starve deliveries.
  const webhookDb = createDb(config.DATABASE_URL, { max: 2 });
  // Under an advisory lock: hosts and edges that start together migrate once.
  await migrateToLatest(db);
  closeDatabase = async () => {
    await closeDb(db);
    await closeDb(webhookDb);
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
  });
  process.stdout.write(`${JSON.stringify({ hostId: config.HOST_ID, url: host.url })}\n`);
} catch (err) {
  reportStartFailure(err);
  await closeDatabase();
  process.exit(1);
}

let stopping = false;
const stop = async () => {
  if (stopping) return;
  stopping = true;
  // Sockets end without logging out: the sessions resume on the next start, with no new QR.
  await host.close();
  await closeDatabase();
  process.exit(0);
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);

import { pino } from 'pino';
import { parseSecretKey } from '../../shared/webhook-secrets.js';
import { HostConfigSchema, hostSettingsOf, parseConfig, waConnectionOf } from '../config.js';
import {
  closeDb,
  createDb,
  createLeaseDb,
  createListener,
  createWebhookDb,
  hostDbOptions,
} from '../db/connect.js';
import { migrateToLatest } from '../db/migrate.js';
import { type RunningHost, startHost } from './server.js';

/** A host started from its environment, with its database pools and how long SIGTERM drains. */
export interface ConfiguredHost {
  host: RunningHost;
  hostId: string;
  /** The sessions' pool (an edge in the same process may share it). */
  db: ReturnType<typeof createDb>;
  drainMs: number;
  /** Closes the pools; after `host.close()`. */
  closeDatabase(): Promise<void>;
}

/** Starts a session host configured by `env` (HostConfigSchema), as `npm run host` does. */
export async function startConfiguredHost(env: NodeJS.ProcessEnv): Promise<ConfiguredHost> {
  const config = parseConfig(HostConfigSchema, env);
  const db = createDb(config.DATABASE_URL, hostDbOptions(config.HOST_ID, config.HOST_LEASE_SECONDS));
  const webhookDb = createWebhookDb(config.DATABASE_URL, config.HOST_ID);
  const leaseDb = createLeaseDb(config.DATABASE_URL, config.HOST_ID, config.HOST_LEASE_SECONDS);
  const listener = createListener(config.DATABASE_URL);
  const closeDatabase = async () => {
    await listener.close();
    await closeDb(db);
    await closeDb(webhookDb);
    await closeDb(leaseDb);
  };
  try {
    // Under an advisory lock: hosts and edges that start together migrate once.
    await migrateToLatest(db);
    const host = await startHost({
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
      ...hostSettingsOf(config),
      leaseDb,
      listener,
    });
    return { host, hostId: config.HOST_ID, db, drainMs: config.HOST_DRAIN_SECONDS * 1000, closeDatabase };
  } catch (err) {
    await closeDatabase();
    throw err;
  }
}

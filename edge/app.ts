import { OpenAPIHono } from '@hono/zod-openapi';
import type { MiddlewareHandler } from 'hono';
import type { Kysely } from 'kysely';
import type { Database } from '../shared/db-schema.js';
import type { HostSessionAction } from '../shared/host-api.js';
import { MEDIA_FETCH_TIMEOUT_MS } from '../shared/message-content.js';
import { parseSecretKey, SecretBox } from '../shared/webhook-secrets.js';
import { authenticate, requireScope } from './auth/authenticate.js';
import type { PeerAddress } from './auth/client-address.js';
import type { KeyCache } from './auth/key-cache.js';
import { invalidateKeyCacheOnWrites } from './auth/key-cache-invalidation.js';
import { flushLogged, recordLastUsed } from './auth/last-used-middleware.js';
import type { KeyLookup } from './auth/queries/api-keys.js';
import { recordKeyUses } from './auth/queries/key-usage.js';
import { refuseKeyInQuery } from './auth/query-key.js';
import { createAuthServices } from './auth/services.js';
import { registerChatRoutes } from './chats/routes/chats.js';
import { type EdgeConfigInput, parseEdgeConfig } from './config.js';
import { registerConsole } from './console/routes.js';
import type { EdgeDatabase, EdgeEnv } from './context.js';
import { registerDocs } from './docs/reference.js';
import { registerEventRoutes } from './events/routes/events.js';
import { createHostClient } from './hosts/client.js';
import { createForwarder } from './hosts/forward.js';
import { fetchTransport, type HostTransport } from './hosts/transport.js';
import { provideDatabase } from './http/database.js';
import { handleError, notFound } from './http/error-handler.js';
import { checkMethod } from './http/method-check.js';
import { API_KEY_SECURITY, apiKeySecurityScheme, validationError } from './http/openapi.js';
import { logRequests } from './http/request-log.js';
import { responseHeaders } from './http/response-headers.js';
import { limitBody } from './limits/body-limit.js';
import { limitSends } from './limits/send-limit.js';
import { consoleLogger, type EdgeLogger } from './logger.js';
import { registerOutboxRoutes } from './outbox/routes/outbox.js';
import { registerHealth } from './routes/health.js';
import { registerIndex } from './routes/index.js';
import { registerSessionCreate } from './routes/session-create.js';
import { registerSessionEvents } from './routes/session-events.js';
import { registerSessionLogout } from './routes/session-logout.js';
import { registerSessionPairingCode } from './routes/session-pairing-code.js';
import { registerSessionQr } from './routes/session-qr.js';
import { registerSessionStatus } from './routes/session-status.js';
import type { EdgeApp, EdgeServices, ResolveHost } from './services.js';
import { registerTenancyRoutes } from './tenancy/routes/tenancy.js';
import { registerWebhookRoutes } from './webhooks/routes/webhooks.js';

export type { KeyLookup, KeyRecord } from './auth/queries/api-keys.js';
export type { EdgeConfigInput } from './config.js';
export type { EdgeDatabase, EdgeEnv, Principal } from './context.js';
export type { EdgeLogger } from './logger.js';
export type { EdgeApp, ResolveHost } from './services.js';

/** What the edge app needs from its entry: configuration (parsed here, once) and services. */
export interface EdgeDeps extends EdgeConfigInput {
  /** One Kysely for the process (Node, Deno), or a per-request provider (Workers over Hyperdrive). */
  db: Kysely<Database> | EdgeDatabase;
  /** For calls to session hosts; default the global fetch. */
  fetch?: typeof fetch;
  /** For calls to session hosts, in place of `fetch` (the Node entry's lighter client). */
  hostTransport?: HostTransport;
  /** The clock key expiry is judged by; default the system clock. */
  now?: () => Date;
  /** Default: JSON lines on the console. */
  logger?: EdgeLogger;
  /** How keys are found by digest in the database; the key cache (auth/key-cache.ts) sits in front of it. */
  keyLookup?: KeyLookup;
  /** A key cache to use instead of a new one (tests look into it); its settings are `keyCache`. */
  keyCacheInstance?: KeyCache;
  /** The connection's peer address, which only the entry can see (Node: the socket; Deno: its info). */
  peerAddress?: PeerAddress;
  /**
   * Resolves webhook host names, so a name pointing at a private address is refused when the endpoint is
   * saved (Node: node:dns; Deno: Deno.resolveDns). Workers have no resolver: there only the URL itself is
   * checked, and the session hosts check the resolved addresses at every delivery anyway.
   */
  resolveHost?: ResolveHost;
  /**
   * The entry puts the response headers (http/response-headers.ts) on every answer itself, where that is
   * cheaper than the middleware (the Node entry). Default: the middleware does.
   */
  setsResponseHeaders?: boolean;
  /** Metrics, where the runtime has them (the Node entry): counted per request, served at GET /metrics. */
  observe?: EdgeObserver;
}

/** What an entry that keeps metrics gives the app. */
export interface EdgeObserver {
  /** Runs around every request. */
  middleware: MiddlewareHandler;
  /** The metrics in Prometheus' text format, for GET /metrics (operator key). */
  scrape(): Promise<{ body: string; contentType: string }>;
}

/** The app and what its entry must do at shutdown. */
export interface Edge {
  app: EdgeApp;
  /** Writes the buffered last-used times; call after the server stopped taking requests. */
  flush(): Promise<void>;
}

/**
 * The edge: authenticates `x-api-key`, serves the seed's API, and forwards session requests to the owning
 * session host with a signed JWT. Web-standard only, so the Node, Workers and Deno entries all run it.
 */
export function createEdgeApp(deps: EdgeDeps): EdgeApp {
  return createEdge(deps).app;
}

/** `createEdgeApp`, with the shutdown the Node and Deno entries need (Workers have none). */
export function createEdge(deps: EdgeDeps): Edge {
  const config = parseEdgeConfig(deps);
  const logger = deps.logger ?? consoleLogger();
  const now = deps.now ?? (() => new Date());
  // Called through a wrapper: Workers refuse a fetch invoked on anything but the global object.
  const fetchFn = deps.fetch ?? ((input, init) => fetch(input, init));
  const database: EdgeDatabase = isEdgeDatabase(deps.db) ? deps.db : sharedDatabase(deps.db);
  const auth = createAuthServices(config, {
    now,
    keyLookup: deps.keyLookup,
    keyCache: deps.keyCacheInstance,
    peerAddress: deps.peerAddress,
  });

  const hosts = createHostClient({
    transport: deps.hostTransport ?? fetchTransport(fetchFn),
    secret: config.hostSecret,
    tokenTtlSeconds: config.hostTokenTtlSeconds,
    timeoutMs: config.hostTimeoutMs,
    logger,
  });
  const timeoutMsFor = (action: HostSessionAction) => {
    switch (action) {
      case 'logout':
        return config.hostLogoutTimeoutMs;
      case 'send':
        return config.hostSendTimeoutMs;
      case 'media':
        // The host's own download timeout, and time to store the file.
        return MEDIA_FETCH_TIMEOUT_MS + 10_000;
      case 'start':
        return config.hostStartTimeoutMs;
      default:
        return config.hostTimeoutMs;
    }
  };
  const forwarder = createForwarder({
    hosts,
    logger,
    timeoutMsFor,
    routeCacheMs: config.hostRouteCacheMs,
    now,
  });
  const webhookSecrets =
    config.webhooks.secretKey === undefined
      ? undefined
      : new SecretBox(parseSecretKey(config.webhooks.secretKey));
  const services: EdgeServices = {
    config,
    hosts,
    forwarder,
    logger,
    now,
    webhookSecrets,
    resolveHost: deps.resolveHost,
  };

  const app: EdgeApp = new OpenAPIHono<EdgeEnv>({
    defaultHook: (result) => {
      if (!result.success) throw validationError(result.error);
    },
  });
  app.openAPIRegistry.registerComponent('securitySchemes', API_KEY_SECURITY, apiKeySecurityScheme);
  app.onError(handleError(logger));
  app.notFound(notFound);

  // Order matters: cheap refusals first, and nothing reads a key before the query string is known clean.
  if (deps.observe) app.use(deps.observe.middleware);
  app.use(logRequests(logger));
  if (!deps.setsResponseHeaders) app.use(responseHeaders());
  app.use(limitBody(config.maxBodyBytes));
  app.use(refuseKeyInQuery());
  app.use(checkMethod(app));
  app.use(provideDatabase(database));
  app.use(invalidateKeyCacheOnWrites(auth.keyCache));
  app.use(recordLastUsed({ buffer: auth.lastUsed, database, now, logger }));
  const keys = { lookup: auth.lookup, now, logger, throttle: auth.throttle, checked: auth.checkedKeys };
  app.use('/api/*', authenticate(keys));
  if (deps.observe) {
    // Scrapers send a bearer token more easily than a custom header: the operator key either way.
    const observe = deps.observe;
    app.use('/metrics', authenticate({ ...keys, bearer: true }));
    app.get('/metrics', requireScope('operator'), async (c) => {
      const { body, contentType } = await observe.scrape();
      return c.body(body, 200, { 'content-type': contentType, 'cache-control': 'no-store' });
    });
  }
  app.use('/api/send', limitSends(auth.sendLimits, now));

  registerIndex(app, services);
  registerHealth(app, services);
  registerSessionCreate(app, services);
  registerSessionQr(app, services);
  registerSessionPairingCode(app, services);
  registerSessionEvents(app, services);
  registerSessionStatus(app, services);
  registerOutboxRoutes(app, services);
  registerSessionLogout(app, services);
  registerTenancyRoutes(app, services);
  registerEventRoutes(app, services);
  registerWebhookRoutes(app, services);
  registerChatRoutes(app, services, auth.numberChecks);
  registerDocs(app);
  registerConsole(app, services);
  // The API's description, generated from the same schemas that validate requests.
  app.doc31('/openapi.json', {
    openapi: '3.1.0',
    info: { title: 'wa-gateway', version: config.version, description: 'Multi-tenant WhatsApp gateway' },
    // Relative: the document is served by the gateway it describes, wherever that is deployed.
    servers: [{ url: '/', description: 'This gateway' }],
  });

  const shared = isEdgeDatabase(deps.db) ? undefined : deps.db;
  const flush = async () => {
    if (shared) await flushLogged(auth.lastUsed, (uses) => recordKeyUses(shared, uses), logger);
  };
  return { app, flush };
}

function isEdgeDatabase(db: Kysely<Database> | EdgeDatabase): db is EdgeDatabase {
  return 'open' in db && typeof db.open === 'function';
}

function sharedDatabase(db: Kysely<Database>): EdgeDatabase {
  return { open: () => db };
}

import type { OpenAPIHono } from '@hono/zod-openapi';
import type { SecretBox } from '../shared/webhook-secrets.js';
import type { EdgeConfig } from './config.js';
import type { EdgeEnv } from './context.js';
import type { HostClient } from './hosts/client.js';
import type { Forwarder } from './hosts/forward.js';
import type { EdgeLogger } from './logger.js';

/** What route handlers use, handed to each route's register function. */
export interface EdgeServices {
  config: EdgeConfig;
  hosts: HostClient;
  forwarder: Forwarder;
  logger: EdgeLogger;
  /** The app's clock (EdgeDeps.now): key expiry, overlaps and revocations are all judged by it. */
  now: () => Date;
  /** Encrypts webhook signing secrets; undefined when `webhooks.secretKey` is not configured. */
  webhookSecrets: SecretBox | undefined;
  /** Every address a host name resolves to, where the runtime can tell (EdgeDeps.resolveHost). */
  resolveHost: ResolveHost | undefined;
}

/** Resolves a host name to all its addresses (IPv4 and IPv6); rejects when it does not resolve. */
export type ResolveHost = (hostname: string) => Promise<string[]>;

export type EdgeApp = OpenAPIHono<EdgeEnv>;

import type { OpenAPIHono } from '@hono/zod-openapi';
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
}

export type EdgeApp = OpenAPIHono<EdgeEnv>;

// The Cloudflare Workers entry (wrangler.toml): Postgres through the Hyperdrive binding.
import type { ExecutionContext } from 'hono';
import { z } from 'zod';
import { ApiError } from '../../shared/errors.js';
import { createEdgeApp, type EdgeApp } from '../app.js';
import { EdgeEnvSchema, edgeConfigFrom, parseEnv } from './env.js';
import { createEdgeDb } from './postgres.js';

const WorkerEnvSchema = EdgeEnvSchema.extend({
  HYPERDRIVE: z.object({ connectionString: z.string().min(1) }),
});

// One app per isolate and env object: building it per request would redo route registration, and would
// throw away the key cache, the last-used buffer and the rate limits, which live in the app.
const apps = new WeakMap<object, EdgeApp>();

function appFor(rawEnv: object): EdgeApp {
  let app = apps.get(rawEnv);
  if (!app) {
    const env = parseEnv(WorkerEnvSchema, rawEnv);
    const config = edgeConfigFrom(env);
    app = createEdgeApp({
      ...config,
      // Cloudflare sets CF-Connecting-IP to the connecting client, replacing whatever the client sent.
      clientAddress: {
        ...config.clientAddress,
        header: env.EDGE_CLIENT_ADDRESS_HEADER ?? 'cf-connecting-ip',
      },
      db: {
        // A Worker may not reuse a socket across requests, so each request gets its own small pool;
        // Hyperdrive keeps the real connections to Postgres warm.
        open: () => createEdgeDb(env.HYPERDRIVE.connectionString, { max: 5 }),
        close: (db, c) => c.executionCtx.waitUntil(db.destroy()),
      },
    });
    apps.set(rawEnv, app);
  }
  return app;
}

export default {
  async fetch(request: Request, env: Record<string, unknown>, ctx: ExecutionContext): Promise<Response> {
    let app: EdgeApp;
    try {
      app = appFor(env);
    } catch (err) {
      // A configuration problem: the log says which, the client gets the generic 500.
      console.error(err instanceof Error ? err.message : err);
      return new ApiError('INTERNAL_ERROR').getResponse();
    }
    return app.fetch(request, env, ctx);
  },
};

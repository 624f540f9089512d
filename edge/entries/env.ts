// The environment variables the Workers and Deno entries read, checked once with zod. (The Node entry
// gets its configuration from the stack's own schema, node-runtime/config.ts.)
import { z } from 'zod';
import type { EdgeConfigInput } from '../app.js';

// An empty variable counts as unset, not as 0 (which would, e.g., turn the key cache off).
const number = z.preprocess((v) => (v === '' ? undefined : v), z.coerce.number().optional());

export const EdgeEnvSchema = z.object({
  /** HS256 secret shared with the session hosts; its length is checked by the app's own config. */
  EDGE_HOST_SECRET: z.string().min(1),
  // Tuning; unset means the app's defaults (edge/config.ts), which also checks the ranges.
  /** Header a trusted proxy sets with the client's address (Workers default: cf-connecting-ip). */
  EDGE_CLIENT_ADDRESS_HEADER: z.string().min(1).optional(),
  /** Proxies you run in front of the edge that append to that header (x-forwarded-for). */
  EDGE_CLIENT_ADDRESS_HOPS: number,
  EDGE_KEY_CACHE_TTL_MS: number,
  EDGE_LAST_USED_FLUSH_SECONDS: number,
  EDGE_FAILED_AUTH_LIMIT: number,
  EDGE_SEND_PER_SESSION_PER_SECOND: number,
  EDGE_SEND_PER_SESSION_BURST: number,
  EDGE_SEND_PER_TENANT_PER_SECOND: number,
  EDGE_SEND_PER_TENANT_BURST: number,
  /** Encrypts webhook signing secrets (32 bytes, base64); the session hosts need the same. */
  WEBHOOK_SECRET_KEY: z.string().min(1).optional(),
  /** `true` lets webhook URLs be private addresses or plain http (development only). */
  WEBHOOK_ALLOW_PRIVATE: z.enum(['true', 'false']).optional(),
});

export type EdgeEnvVars = z.infer<typeof EdgeEnvSchema>;

/** The app's configuration from already-parsed variables. */
export function edgeConfigFrom(env: EdgeEnvVars): EdgeConfigInput {
  return {
    hostSecret: env.EDGE_HOST_SECRET,
    webhooks: { secretKey: env.WEBHOOK_SECRET_KEY, allowPrivate: env.WEBHOOK_ALLOW_PRIVATE === 'true' },
    clientAddress: { header: env.EDGE_CLIENT_ADDRESS_HEADER, hops: env.EDGE_CLIENT_ADDRESS_HOPS },
    keyCache: { ttlMs: env.EDGE_KEY_CACHE_TTL_MS },
    lastUsed: { flushSeconds: env.EDGE_LAST_USED_FLUSH_SECONDS },
    rateLimits: {
      failedAuth: { limit: env.EDGE_FAILED_AUTH_LIMIT },
      sendPerSession: {
        perSecond: env.EDGE_SEND_PER_SESSION_PER_SECOND,
        burst: env.EDGE_SEND_PER_SESSION_BURST,
      },
      sendPerTenant: {
        perSecond: env.EDGE_SEND_PER_TENANT_PER_SECOND,
        burst: env.EDGE_SEND_PER_TENANT_BURST,
      },
    },
  };
}

/** Parses `env` with `schema`; the error names the bad variables and never echoes a value. */
export function parseEnv<T extends z.ZodType>(schema: T, env: unknown): z.output<T> {
  const result = schema.safeParse(env);
  if (result.success) return result.data;
  const problems = result.error.issues.map((i) => `${i.path.join('.') || '(env)'}: ${i.message}`);
  throw new Error(`invalid edge environment: ${problems.join('; ')}`);
}

import { z } from 'zod';
import { MAX_HOST_TOKEN_TTL_SECONDS, MIN_HOST_SECRET_BYTES } from '../shared/jwt.js';
import { MAX_BODY_BYTES } from '../shared/schemas.js';
import { isSecretKey } from '../shared/webhook-secrets.js';

const utf8Length = (text: string) => new TextEncoder().encode(text).length;

/** A cached key may be up to this old; with request handling, a change is seen everywhere within 5 s. */
export const MAX_KEY_CACHE_TTL_MS = 4_000;

const tokenBucket = (perSecond: number, burst: number) =>
  z
    .object({
      perSecond: z.number().positive().default(perSecond),
      burst: z.int().min(1).default(burst),
    })
    .prefault({});

/**
 * The edge app's configuration. Each entry (Node, Workers, Deno) builds this from its own environment and
 * `createEdgeApp` parses it once, so a bad value fails at start, not on the first request.
 */
export const EdgeConfigSchema = z.object({
  /** HS256 secret shared with the session hosts (`EDGE_HOST_SECRET`). */
  hostSecret: z.string().refine((s) => utf8Length(s) >= MIN_HOST_SECRET_BYTES, {
    message: `must be at least ${MIN_HOST_SECRET_BYTES} bytes`,
  }),
  /** Bodies over this many bytes get 413 (shared/schemas.ts says why the default is enough). */
  maxBodyBytes: z.int().min(1024).default(MAX_BODY_BYTES),
  /** How long a forwarded request may take before the client gets 503. */
  hostTimeoutMs: z.int().positive().default(10_000),
  // The host waits up to 25 s for a message's turn in the outbox and WhatsApp's ack (SEND_WAIT_MS).
  hostSendTimeoutMs: z.int().positive().default(30_000),
  // The host waits up to 20 s for WhatsApp to confirm an unlink before it answers.
  hostLogoutTimeoutMs: z.int().positive().default(25_000),
  /** The start call after creating a session; short, because the QR call starts the session anyway. */
  hostStartTimeoutMs: z.int().positive().default(3_000),
  hostTokenTtlSeconds: z.int().min(1).max(MAX_HOST_TOKEN_TTL_SECONDS).default(30),
  /** How long the edge remembers which host owns a session (0: look it up on every request). */
  hostRouteCacheMs: z.int().min(0).max(10_000).default(2_000),
  /** Webhook endpoints: the key their secrets are encrypted with, and whether private URLs are allowed. */
  webhooks: z
    .object({
      secretKey: z
        .string()
        .optional()
        .refine((key) => key === undefined || isSecretKey(key), { message: 'must be 32 bytes in base64' }),
      allowPrivate: z.boolean().default(false),
    })
    .prefault({}),
  /** Reported by `GET /`. */
  version: z.string().min(1).default('0.1.0'),
  /** Where `GET /` tells people to read about the API. */
  docsUrl: z.string().min(1).default('README.md'),
  /** The key look-up cache; edge/auth/key-cache.ts says why these bounds keep revocation under 5 seconds. */
  keyCache: z
    .object({
      /** How long a found key is served from memory. Capped so a revocation elsewhere lands within 5 s. */
      ttlMs: z.int().min(0).max(MAX_KEY_CACHE_TTL_MS).default(MAX_KEY_CACHE_TTL_MS),
      /** How long "no such key" is remembered; only a key presented before it existed could be hurt. */
      negativeTtlMs: z.int().min(0).max(MAX_KEY_CACHE_TTL_MS).default(2_000),
      maxEntries: z.int().min(1).default(10_000),
      maxNegativeEntries: z.int().min(1).default(1_000),
      /** How long a key stays known as real after its entry went stale: it passes an address block. */
      knownKeyMs: z
        .int()
        .min(0)
        .default(15 * 60_000),
    })
    .prefault({}),
  /** Last-used times are buffered and written in one UPDATE at most this often (edge/auth/last-used.ts). */
  lastUsed: z
    .object({
      flushSeconds: z.number().min(0).default(30),
      /** Distinct keys buffered before a flush is due regardless of the interval. */
      maxPending: z.int().min(1).max(10_000).default(10_000),
    })
    .prefault({}),
  /** In-memory limits, per edge instance (per isolate on Workers); edge/limits/rate-limit.ts. */
  rateLimits: z
    .object({
      /** More than `limit` refused keys from one address within `windowSeconds` blocks it for `blockSeconds`. */
      failedAuth: z
        .object({
          limit: z.int().min(1).default(20),
          windowSeconds: z.number().positive().default(60),
          blockSeconds: z.number().positive().default(60),
        })
        .prefault({}),
      /** Token buckets for POST /api/send: a steady rate per second and a burst. */
      sendPerSession: tokenBucket(20, 40),
      sendPerTenant: tokenBucket(100, 200),
      /** Addresses, sessions and tenants tracked at once (each map); the least recently seen go first. */
      maxTracked: z.int().min(100).default(100_000),
    })
    .prefault({}),
  /**
   * Where the client's address (for the failed-auth limit) comes from. Default: what the runtime says
   * about the connection (the socket's peer on Node and Deno). `header` names one a trusted proxy sets
   * (`cf-connecting-ip`, the Workers entry's default; `x-forwarded-for` only when you run the proxy);
   * the address is the entry `hops` from the right of that header's comma-separated list.
   */
  /**
   * The sandbox's WhatsApp simulator (its control API): the console then offers a simulated phone scan.
   * Never set in production.
   */
  simulatorUrl: z.url().optional(),
  clientAddress: z
    .object({
      header: z
        .string()
        .regex(/^[A-Za-z0-9-]+$/)
        .transform((h) => h.toLowerCase())
        .optional(),
      hops: z.int().min(1).max(10).default(1),
    })
    .prefault({}),
});

export type EdgeConfigInput = z.input<typeof EdgeConfigSchema>;
export type EdgeConfig = z.output<typeof EdgeConfigSchema>;

/** Parses the configuration; throws an error naming every bad field (never echoing the secret). */
export function parseEdgeConfig(input: EdgeConfigInput): EdgeConfig {
  const result = EdgeConfigSchema.safeParse(input);
  if (result.success) return result.data;
  const problems = result.error.issues.map((i) => `${i.path.join('.') || '(config)'}: ${i.message}`);
  throw new Error(`invalid edge configuration: ${problems.join('; ')}`);
}

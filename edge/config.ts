import { z } from 'zod';
import { MAX_HOST_TOKEN_TTL_SECONDS, MIN_HOST_SECRET_BYTES } from '../shared/jwt.js';

const utf8Length = (text: string) => new TextEncoder().encode(text).length;

/**
 * The edge app's configuration. Each entry (Node, Workers, Deno) builds this from its own environment and
 * `createEdgeApp` parses it once, so a bad value fails at start, not on the first request.
 */
export const EdgeConfigSchema = z.object({
  /** HS256 secret shared with the session hosts (`EDGE_HOST_SECRET`). */
  hostSecret: z.string().refine((s) => utf8Length(s) >= MIN_HOST_SECRET_BYTES, {
    message: `must be at least ${MIN_HOST_SECRET_BYTES} bytes`,
  }),
  // 256 KiB: a message may be 65536 characters, up to 4 UTF-8 bytes each, plus JSON escaping.
  maxBodyBytes: z
    .int()
    .min(1024)
    .default(256 * 1024),
  /** How long a forwarded request may take before the client gets 503. */
  hostTimeoutMs: z.int().positive().default(10_000),
  // The host waits up to 20 s for WhatsApp to confirm an unlink before it answers.
  hostLogoutTimeoutMs: z.int().positive().default(25_000),
  /** The start call after creating a session; short, because the QR call starts the session anyway. */
  hostStartTimeoutMs: z.int().positive().default(3_000),
  /** A host whose heartbeat is older than this is dead: nothing is placed on it, its sessions move. */
  hostLivenessSeconds: z.int().positive().default(30),
  hostTokenTtlSeconds: z.int().min(1).max(MAX_HOST_TOKEN_TTL_SECONDS).default(30),
  /** Reported by `GET /`. */
  version: z.string().min(1).default('0.1.0'),
  /** Where `GET /` tells people to read about the API. */
  docsUrl: z.string().min(1).default('README.md'),
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

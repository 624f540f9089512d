import { z } from 'zod';
import { EdgeEnvSchema } from '../edge/entries/env.js';
import { apiKeySettingProblem, operatorKeySettingProblem } from '../edge/tenancy/bootstrap.js';
import { DEFAULT_PACING, type Pacing, PacingSchema } from '../shared/outbox.js';
import { isSecretKey } from '../shared/webhook-secrets.js';
import { ConfigError } from './startup-error.js';

const millis = (fallback: number) => z.coerce.number().int().min(0).max(3_600_000).default(fallback);
const port = (fallback: number) => z.coerce.number().int().min(0).max(65535).default(fallback);
const optional = z
  .string()
  .optional()
  .transform((v) => (v === '' ? undefined : v));
/** A key setting: unset, or a key `problem` accepts (the message never contains the key). */
const keySetting = (problem: (text: string) => string | null) =>
  optional.superRefine((value, ctx) => {
    const found = value === undefined ? null : problem(value);
    if (found) ctx.addIssue({ code: 'custom', message: found });
  });

/** What a session host reads, on its own or inside the single-machine stack. */
const HostSettings = z.object({
  HOST_PORT: port(3001),
  HOST_ID: z
    .string()
    .regex(/^[A-Za-z0-9_.-]{1,64}$/)
    .default('host-1'),
  WA_WS_URL: optional.pipe(z.url().optional()),
  WA_TRUST_ROOT: optional.pipe(
    z
      .string()
      .regex(/^[0-9a-f]{64}$/i)
      .optional(),
  ),
  /**
   * PEM of a CA to trust for WhatsApp's media servers and media URLs: the simulator's (its `mediaCa`).
   * Never set in production.
   */
  WA_MEDIA_CA: optional.pipe(z.string().includes('-----BEGIN CERTIFICATE-----').optional()),
  /** WhatsApp Web version to announce, e.g. 2.3000.1023456789; default Baileys' built-in one. */
  WA_VERSION: optional.pipe(
    z
      .string()
      .regex(/^\d+\.\d+\.\d+$/)
      .optional(),
  ),
  /** Ask web.whatsapp.com for the current version at start (the only call to the internet at start). */
  WA_FETCH_VERSION: z.enum(['true', 'false']).default('false'),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  /** `true` lets webhooks go to private addresses and plain http (development; the sandbox sets it). */
  WEBHOOK_ALLOW_PRIVATE: z.enum(['true', 'false']).default('false'),
  /** `true` lets media URLs (POST /api/messages) point at private addresses (development; the sandbox sets it). */
  MEDIA_URL_ALLOW_PRIVATE: z.enum(['true', 'false']).default('false'),
  /** How many sessions the edge places on this host; unset, no limit. */
  HOST_MAX_SESSIONS: optional.pipe(
    z.coerce.number<string | undefined>().int().min(1).max(1_000_000).optional(),
  ),
  /**
   * How long this host holds its sessions without renewing its lease: after a crash, other hosts take
   * its sessions this long after its last renewal. Shorter fails over faster and renews more often.
   */
  HOST_LEASE_SECONDS: z.coerce.number().min(1).max(300).default(6),
  /** On SIGTERM, how long the host spends handing its sessions to other hosts before it stops. */
  HOST_DRAIN_SECONDS: z.coerce.number().min(0).max(3600).default(30),
  /** Messages and events older than this are purged. */
  MESSAGE_RETENTION_DAYS: z.coerce.number().int().min(1).max(3650).default(30),
  /** Pacing of sessions whose tenant admin set none (shared/outbox.ts DEFAULT_PACING). */
  PACING_MIN_INTERVAL_MS: millis(DEFAULT_PACING.minIntervalMs),
  PACING_JITTER_MS: millis(DEFAULT_PACING.jitterMs),
  PACING_TYPING_MS: millis(DEFAULT_PACING.typingMs),
  PACING_PER_CHAT_MIN_INTERVAL_MS: millis(DEFAULT_PACING.perChatMinIntervalMs),
});

/** The deployment's default pacing, from its settings. */
export const pacingOf = (
  config: Pick<
    z.infer<typeof HostSettings>,
    'PACING_MIN_INTERVAL_MS' | 'PACING_JITTER_MS' | 'PACING_TYPING_MS' | 'PACING_PER_CHAT_MIN_INTERVAL_MS'
  >,
): Pacing =>
  PacingSchema.parse({
    minIntervalMs: config.PACING_MIN_INTERVAL_MS,
    jitterMs: config.PACING_JITTER_MS,
    typingMs: config.PACING_TYPING_MS,
    perChatMinIntervalMs: config.PACING_PER_CHAT_MIN_INTERVAL_MS,
  });

/** The host's options that `npm start` and a host on its own both take from the same settings. */
export const hostSettingsOf = (config: z.infer<typeof HostSettings>) => ({
  retentionDays: config.MESSAGE_RETENTION_DAYS,
  pacing: pacingOf(config),
  mediaAllowPrivate: config.MEDIA_URL_ALLOW_PRIVATE === 'true',
  maxSessions: config.HOST_MAX_SESSIONS,
  leaseMs: config.HOST_LEASE_SECONDS * 1000,
});

/**
 * Everything the single-machine stack (`npm start`, `npm run sandbox`) reads from the environment: the
 * edge's own variables (every `EDGE_*` works here as on Workers and Deno), the host's, and the stack's.
 */
export const StackConfigSchema = EdgeEnvSchema.extend({
  ...HostSettings.shape,
  PORT: port(3000),
  DATA_DIR: z.string().min(1).default('.data'),
  DATABASE_URL: optional,
  /** Optional here: generated once into DATA_DIR when unset. */
  EDGE_HOST_SECRET: optional.pipe(z.string().min(32).optional()),
  /** Optional here: generated once into DATA_DIR when unset. */
  WEBHOOK_SECRET_KEY: optional.pipe(z.string().refine(isSecretKey, 'must be 32 bytes in base64').optional()),
  API_KEY: keySetting(apiKeySettingProblem),
  /** The operator's key (creates and suspends tenants) instead of a generated one; 32+ characters. */
  OPERATOR_KEY: keySetting(operatorKeySettingProblem),
  WA_SIM_PORT: port(3100),
});
export type StackConfig = z.infer<typeof StackConfigSchema>;

/** Configuration of a session host started on its own (node-runtime/host/main.ts). */
export const HostConfigSchema = HostSettings.extend({
  DATABASE_URL: z.string().min(1),
  EDGE_HOST_SECRET: z.string().min(32),
  /** The same key the edge encrypts webhook secrets with. */
  WEBHOOK_SECRET_KEY: z.string().refine(isSecretKey, 'must be 32 bytes in base64'),
  HOST_LISTEN: z.string().default('127.0.0.1'),
  HOST_URL: optional.pipe(z.url().optional()),
});
export type HostConfig = z.infer<typeof HostConfigSchema>;

/** Configuration of an edge started on its own (`npm run edge`, scripts/edge.ts). */
export const EdgeProcessConfigSchema = EdgeEnvSchema.extend({
  DATABASE_URL: z.string().min(1),
  EDGE_HOST_SECRET: z.string().min(32),
  PORT: port(3000),
  /** Default: every interface, as the seed listened. */
  EDGE_LISTEN: optional,
  LOG_LEVEL: HostSettings.shape.LOG_LEVEL,
  API_KEY: keySetting(apiKeySettingProblem),
  OPERATOR_KEY: keySetting(operatorKeySettingProblem),
});
export type EdgeProcessConfig = z.infer<typeof EdgeProcessConfigSchema>;

/** The WhatsApp connection settings a session host takes from its configuration. */
export const waConnectionOf = (
  config: Pick<
    StackConfig,
    'WA_WS_URL' | 'WA_TRUST_ROOT' | 'WA_MEDIA_CA' | 'WA_VERSION' | 'WA_FETCH_VERSION'
  >,
) => ({
  wsUrl: config.WA_WS_URL,
  trustRoot: config.WA_TRUST_ROOT,
  mediaCa: config.WA_MEDIA_CA,
  version: config.WA_VERSION?.split('.').map(Number) as [number, number, number] | undefined,
  fetchVersion: config.WA_FETCH_VERSION === 'true',
});

/** Parses `env`; throws a ConfigError naming every bad variable. */
export const parseConfig = <T extends z.ZodType>(schema: T, env: NodeJS.ProcessEnv): z.infer<T> => {
  const parsed = schema.safeParse(env);
  if (parsed.success) return parsed.data;
  throw new ConfigError(parsed.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`));
};

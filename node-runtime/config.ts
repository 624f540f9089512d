import { z } from 'zod';

const port = (fallback: number) => z.coerce.number().int().min(0).max(65535).default(fallback);
const optional = z
  .string()
  .optional()
  .transform((v) => (v === '' ? undefined : v));

/** Everything the single-machine stack reads from the environment, validated once at start. */
export const StackConfigSchema = z.object({
  PORT: port(3000),
  HOST_PORT: port(3001),
  HOST_ID: z
    .string()
    .regex(/^[A-Za-z0-9_.-]{1,64}$/)
    .default('host-1'),
  DATA_DIR: z.string().min(1).default('.data'),
  DATABASE_URL: optional,
  EDGE_HOST_SECRET: optional.pipe(z.string().min(32).optional()),
  /** Behind a reverse proxy: the header it sets with the client's address (else the socket's peer). */
  EDGE_CLIENT_ADDRESS_HEADER: optional,
  /** How many proxies of yours append to that header (x-forwarded-for); the edge checks the range. */
  EDGE_CLIENT_ADDRESS_HOPS: optional.pipe(z.string().regex(/^\d+$/).transform(Number).optional()),
  API_KEY: optional,
  /** The operator's key (creates and suspends tenants) instead of a generated one; 32+ characters. */
  OPERATOR_KEY: optional,
  WA_WS_URL: optional.pipe(z.url().optional()),
  WA_TRUST_ROOT: optional.pipe(
    z
      .string()
      .regex(/^[0-9a-f]{64}$/i)
      .optional(),
  ),
  /** WhatsApp Web version to announce, e.g. 2.3000.1023456789; default Baileys' built-in one. */
  WA_VERSION: optional.pipe(
    z
      .string()
      .regex(/^\d+\.\d+\.\d+$/)
      .optional(),
  ),
  /** Ask web.whatsapp.com for the current version at start (the only call to the internet at start). */
  WA_FETCH_VERSION: z.enum(['true', 'false']).default('false'),
  WA_SIM_PORT: port(3100),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
});
export type StackConfig = z.infer<typeof StackConfigSchema>;

/** Configuration of a session host started on its own (node-runtime/host/main.ts). */
export const HostConfigSchema = StackConfigSchema.pick({
  HOST_PORT: true,
  HOST_ID: true,
  WA_WS_URL: true,
  WA_TRUST_ROOT: true,
  WA_VERSION: true,
  WA_FETCH_VERSION: true,
  LOG_LEVEL: true,
}).extend({
  DATABASE_URL: z.string().min(1),
  EDGE_HOST_SECRET: z.string().min(32),
  HOST_LISTEN: z.string().default('127.0.0.1'),
  HOST_URL: optional.pipe(z.url().optional()),
});
export type HostConfig = z.infer<typeof HostConfigSchema>;

/** The WhatsApp connection settings a session host takes from its configuration. */
export const waConnectionOf = (
  config: Pick<StackConfig, 'WA_WS_URL' | 'WA_TRUST_ROOT' | 'WA_VERSION' | 'WA_FETCH_VERSION'>,
) => ({
  wsUrl: config.WA_WS_URL,
  trustRoot: config.WA_TRUST_ROOT,
  version: config.WA_VERSION?.split('.').map(Number) as [number, number, number] | undefined,
  fetchVersion: config.WA_FETCH_VERSION === 'true',
});

/** Parses `env` or exits with one readable line per problem. */
export const parseConfig = <T extends z.ZodType>(schema: T, env: NodeJS.ProcessEnv): z.infer<T> => {
  const parsed = schema.safeParse(env);
  if (parsed.success) return parsed.data;
  for (const issue of parsed.error.issues) {
    process.stderr.write(`configuration: ${issue.path.join('.')}: ${issue.message}\n`);
  }
  process.exit(2);
};

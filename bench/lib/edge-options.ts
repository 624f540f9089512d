// The bench's edge settings from its process environment (bench/procs/edge.ts and stack.ts): PORT,
// EDGE_HOST_SECRET, WEBHOOK_SECRET_KEY, LOG_LEVEL, and EDGE_CONFIG, a JSON object of extra edge
// settings (edge/config.ts), e.g. to lift per-session rate limits for throughput runs.
import type { Kysely } from 'kysely';
import { pino } from 'pino';
import type { StartEdgeOptions } from '../../edge/entries/node.js';
import type { Database } from '../../shared/db-schema.js';

export const benchEdgeOptions = (env: NodeJS.ProcessEnv, db: Kysely<Database>): StartEdgeOptions => ({
  ...(JSON.parse(env.EDGE_CONFIG ?? '{}') as Record<string, unknown>),
  db,
  port: Number(env.PORT ?? 0),
  hostname: '127.0.0.1',
  hostSecret: env.EDGE_HOST_SECRET ?? '',
  webhooks: { secretKey: env.WEBHOOK_SECRET_KEY, allowPrivate: true },
  logger: pino({ level: env.LOG_LEVEL ?? 'info' }),
});

import { createRoute, z } from '@hono/zod-openapi';
import { dbOf } from '../context.js';
import { type HostLoad, listHostLoads } from '../hosts/queries/hosts.js';
import { errorInfo } from '../logger.js';
import type { EdgeApp, EdgeServices } from '../services.js';

const HealthResponseSchema = z
  .object({
    ok: z.boolean(),
    database: z.enum(['ok', 'error']),
    hosts: z.array(
      z.object({
        id: z.string(),
        live: z.boolean(),
        draining: z.boolean(),
        sessions: z.int().nonnegative(),
      }),
    ),
  })
  .openapi('Health');

export const healthRoute = createRoute({
  method: 'get',
  path: '/health',
  summary: 'Whether the database answers and a session host is alive',
  tags: ['Service'],
  responses: {
    200: { description: 'Healthy', content: { 'application/json': { schema: HealthResponseSchema } } },
    503: { description: 'Unhealthy', content: { 'application/json': { schema: HealthResponseSchema } } },
  },
});

const DATABASE_TIMEOUT_MS = 3_000;

function withTimeout<T>(work: () => Promise<T>, ms: number): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer in ${ms} ms`)), ms);
  });
  return Promise.race([work(), timeout]).finally(() => clearTimeout(timer));
}

/** GET /health: 200 when the database answers and at least one host is alive, else 503. */
export function registerHealth(app: EdgeApp, { config, logger }: EdgeServices): void {
  app.openapi(healthRoute, async (c) => {
    let database: 'ok' | 'error' = 'ok';
    let hosts: HostLoad[] = [];
    try {
      hosts = await withTimeout(
        () => listHostLoads(dbOf(c), config.hostLivenessSeconds),
        DATABASE_TIMEOUT_MS,
      );
    } catch (err) {
      database = 'error';
      logger.warn({ err: errorInfo(err) }, 'health: database did not answer');
    }
    const ok = database === 'ok' && hosts.some((h) => h.live);
    return c.json({ ok, database, hosts }, ok ? 200 : 503);
  });
}

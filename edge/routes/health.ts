import { createRoute, z } from '@hono/zod-openapi';
import { dbOf } from '../context.js';
import { type HostLoad, listHostLoads } from '../hosts/queries/hosts.js';
import { errorResponses } from '../http/openapi.js';
import { errorInfo } from '../logger.js';
import type { EdgeApp, EdgeServices } from '../services.js';

const HealthResponseSchema = z
  .object({
    ok: z.boolean().openapi({ description: 'True only when status is `ok`' }),
    status: z.enum(['ok', 'degraded', 'down']).openapi({
      description:
        '`down`: nothing can be served (no database, or no session host alive); `degraded`: the API ' +
        'answers but sessions cannot work (no session host reaches WhatsApp); `ok`: all is well',
    }),
    database: z.enum(['ok', 'error']),
    sessionHosts: z.enum(['ok', 'none']).openapi({ description: 'Whether a session host is alive' }),
    whatsapp: z.enum(['ok', 'unreachable', 'unknown']).openapi({
      description: 'Whether a live session host can reach WhatsApp (`unknown` until one has checked)',
    }),
    problems: z.array(z.string()).openapi({ description: 'What is wrong, for people; empty when ok' }),
  })
  .openapi('Health');

export type Health = z.infer<typeof HealthResponseSchema>;

export const healthRoute = createRoute({
  operationId: 'health',
  method: 'get',
  path: '/health',
  summary: 'Whether the gateway can serve: database, session hosts, WhatsApp',
  description:
    'Public, so it says nothing about hosts beyond whether one works (operators see them under ' +
    '`GET /api/operator/hosts`). 200 when `ok`; 503 when `degraded` or `down`.',
  tags: ['Service'],
  security: [],
  responses: {
    200: { description: 'Healthy', content: { 'application/json': { schema: HealthResponseSchema } } },
    503: {
      description: 'Degraded or down',
      content: { 'application/json': { schema: HealthResponseSchema } },
    },
    ...errorResponses(400),
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

/** The verdict from the hosts table (undefined: the database did not answer). */
export function assessHealth(hosts: HostLoad[] | undefined): Health {
  if (!hosts) {
    return {
      ok: false,
      status: 'down',
      database: 'error',
      sessionHosts: 'none',
      whatsapp: 'unknown',
      problems: ['the database does not answer'],
    };
  }
  const live = hosts.filter((h) => h.live);
  const whatsapp = live.some((h) => h.whatsapp === 'reachable')
    ? 'ok'
    : live.some((h) => h.whatsapp === 'unreachable')
      ? 'unreachable'
      : 'unknown';
  const problems: string[] = [];
  if (live.length === 0) problems.push('no session host is alive');
  else if (whatsapp === 'unreachable') problems.push('no session host can reach WhatsApp');
  else if (whatsapp === 'unknown') problems.push('no session host has checked WhatsApp yet');
  const status = live.length === 0 ? 'down' : whatsapp === 'ok' ? 'ok' : 'degraded';
  return {
    ok: status === 'ok',
    status,
    database: 'ok',
    sessionHosts: live.length > 0 ? 'ok' : 'none',
    whatsapp,
    problems,
  };
}

/** GET /health */
export function registerHealth(app: EdgeApp, { logger }: EdgeServices): void {
  app.openapi(healthRoute, async (c) => {
    let hosts: HostLoad[] | undefined;
    try {
      hosts = await withTimeout(() => listHostLoads(dbOf(c)), DATABASE_TIMEOUT_MS);
    } catch (err) {
      logger.warn({ err: errorInfo(err) }, 'health: database did not answer');
    }
    const health = assessHealth(hosts);
    return c.json(health, health.ok ? 200 : 503);
  });
}

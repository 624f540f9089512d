// Draining a host and undoing it: the flag lives in the hosts table; the host itself sees it at its next
// renewal and hands its sessions to other live hosts one at a time (node-runtime/host/handover.ts).
import { createRoute } from '@hono/zod-openapi';
import { HostIdParamsSchema, HostResponseSchema } from '../../../shared/admin-schemas.js';
import { ApiError } from '../../../shared/errors.js';
import { requireScope } from '../../auth/authenticate.js';
import { dbOf, type EdgeContext, principalOf } from '../../context.js';
import { leastLoadedLiveHost, listHostLoads, setDraining } from '../../hosts/queries/hosts.js';
import { API_KEY_SECURITY, errorResponses } from '../../http/openapi.js';
import type { EdgeApp, EdgeServices } from '../../services.js';
import { hostView } from '../admin-views.js';

export const hostDrainRoute = (action: 'drain' | 'undrain') =>
  createRoute({
    method: 'post',
    path: `/api/operator/hosts/{id}/${action}`,
    operationId: action === 'drain' ? 'operatorHostDrain' : 'operatorHostUndrain',
    summary: action === 'drain' ? 'Drain a session host' : 'Undrain a session host',
    description:
      action === 'drain'
        ? 'Needs the operator key. No new session goes to the host, and it hands its sessions to the other ' +
          'live hosts one at a time, each stopped there and started on its new host at once (linked ones ' +
          'reconnect with no QR; requests meanwhile are answered by the new owner). Refused with 409 ' +
          'NO_HOST_TO_DRAIN_TO when no other live host takes sessions: start another host first. Draining a ' +
          'draining host changes nothing; a restart of the host undrains it.'
        : 'Needs the operator key. The host takes new sessions again and stops handing its own over (those ' +
          'already moved stay where they are). Undraining a host that is not draining changes nothing.',
    tags: ['Service'],
    security: [{ [API_KEY_SECURITY]: [] }],
    middleware: [requireScope('operator')] as const,
    request: { params: HostIdParamsSchema },
    responses: {
      200: { description: 'The host', content: { 'application/json': { schema: HostResponseSchema } } },
      ...(action === 'drain' ? errorResponses(400, 401, 403, 404, 409) : errorResponses(400, 401, 403, 404)),
    },
  });

export const operatorHostDrainRoute = hostDrainRoute('drain');
export const operatorHostUndrainRoute = hostDrainRoute('undrain');

/** Sets the host's draining flag; draining needs another live host to take its sessions. */
async function changeDraining(c: EdgeContext, { logger }: EdgeServices, id: string, draining: boolean) {
  const operator = principalOf(c, 'operator');
  const host = await dbOf(c)
    .transaction()
    .execute(async (trx) => {
      if (!(await setDraining(trx, id, draining))) throw new ApiError('HOST_NOT_FOUND');
      if (draining && !(await leastLoadedLiveHost(trx, id))) throw new ApiError('NO_HOST_TO_DRAIN_TO');
      return (await listHostLoads(trx)).find((h) => h.id === id);
    });
  if (!host) throw new ApiError('HOST_NOT_FOUND');
  logger.info(
    { hostId: id, draining, key: operator.keyPrefix },
    draining ? 'host drained' : 'host undrained',
  );
  return hostView(host);
}

/** POST /api/operator/hosts/:id/drain and /undrain */
export function registerOperatorHostDrain(app: EdgeApp, services: EdgeServices): void {
  app.openapi(operatorHostDrainRoute, async (c) => {
    const host = await changeDraining(c, services, c.req.valid('param').id, true);
    return c.json({ success: true as const, host }, 200);
  });
  app.openapi(operatorHostUndrainRoute, async (c) => {
    const host = await changeDraining(c, services, c.req.valid('param').id, false);
    return c.json({ success: true as const, host }, 200);
  });
}

import { createRoute } from '@hono/zod-openapi';
import type { MiddlewareHandler } from 'hono';
import { ApiError } from '../../../shared/errors.js';
import {
  EVENT_TYPES,
  EventListQuerySchema,
  EventListResponseSchema,
  type EventType,
  parseEventTypes,
} from '../../../shared/events.js';
import { dbOf, type EdgeEnv } from '../../context.js';
import { API_KEY_SECURITY, errorResponses } from '../../http/openapi.js';
import type { EdgeApp, EdgeServices } from '../../services.js';
import { readUntilFound } from '../long-poll.js';
import { type EventScope, findEventSeq, listEvents } from '../queries/events.js';
import { eventView } from '../views.js';

// A session key reads its session's events, an admin key its tenant's; the operator has no events.
const requireTenantKey: MiddlewareHandler<EdgeEnv> = async (c, next) => {
  const scope = c.get('principal')?.scope;
  if (scope !== 'session' && scope !== 'admin') throw new ApiError('WRONG_SCOPE');
  await next();
};

export const eventListRoute = createRoute({
  operationId: 'eventList',
  method: 'get',
  path: '/api/events',
  summary: 'The event log, oldest first (for backends that cannot take webhooks)',
  description:
    "A session key reads its session's events; a tenant admin key every event of the tenant, the " +
    "tenant's own (`sessionId` null, e.g. `webhook.disabled`) included. Events come in the order they " +
    'happened. Pass `nextCursor` back as `after` to get what came since; with `wait`, an answer with ' +
    'nothing new waits up to that many seconds for something to arrive (long polling). A cursor that ' +
    'is not one of yours, or that has passed retention, is 400 INVALID_CURSOR: start again without one.',
  tags: ['Events'],
  security: [{ [API_KEY_SECURITY]: [] }],
  middleware: [requireTenantKey] as const,
  request: { query: EventListQuerySchema },
  responses: {
    200: { description: 'Events', content: { 'application/json': { schema: EventListResponseSchema } } },
    ...errorResponses(400, 401, 403),
  },
});

/** The `types` filter, or 400 naming the types that do not exist. */
function typesOf(text: string | undefined): EventType[] | undefined {
  if (text === undefined) return undefined;
  const { types, unknown } = parseEventTypes(text);
  if (unknown.length > 0) {
    throw new ApiError('VALIDATION_ERROR', {
      details: unknown.map((name) => ({
        path: 'types',
        message: `unknown event type ${JSON.stringify(name.slice(0, 64))}; known: ${EVENT_TYPES.join(', ')}`,
      })),
    });
  }
  if (types.length === 0) {
    throw new ApiError('VALIDATION_ERROR', {
      details: [{ path: 'types', message: 'name at least one event type, or leave types out' }],
    });
  }
  return types;
}

/** GET /api/events */
export function registerEventList(app: EdgeApp, _services: EdgeServices): void {
  app.openapi(eventListRoute, async (c) => {
    const principal = c.get('principal');
    // Checked by the route's middleware; repeated so the types know the tenant is there.
    if (principal.scope === 'operator') throw new ApiError('WRONG_SCOPE');
    const query = c.req.valid('query');
    const types = typesOf(query.types);
    const scope: EventScope = {
      tenantId: principal.tenantId,
      sessionId: principal.scope === 'session' ? principal.sessionId : null,
    };
    const db = dbOf(c);
    let afterSeq = '0';
    if (query.after !== undefined) {
      // Malformed, unknown, another tenant's or another session's: one answer, so it reveals nothing.
      const seq = await findEventSeq(db, scope, query.after);
      if (seq === undefined) throw new ApiError('INVALID_CURSOR');
      afterSeq = seq;
    }
    const events = await readUntilFound(
      () => listEvents(db, scope, { afterSeq, types, limit: query.limit }),
      {
        waitMs: query.wait * 1000,
        signal: c.req.raw.signal,
      },
    );
    return c.json(
      {
        success: true as const,
        events: events.map(eventView),
        nextCursor: events.at(-1)?.id ?? query.after ?? null,
      },
      200,
    );
  });
}

import { createRoute } from '@hono/zod-openapi';
import type { ZodError } from 'zod';
import { generateApiKey } from '../../shared/api-key.js';
import { ApiError } from '../../shared/errors.js';
import {
  CreateSessionBodySchema,
  type CreateSessionResponse,
  CreateSessionResponseSchema,
  SESSION_CREATED_MESSAGE,
} from '../../shared/schemas.js';
import { requireScope } from '../auth/authenticate.js';
import { insertApiKey } from '../auth/queries/api-keys.js';
import { dbOf, principalOf } from '../context.js';
import { chooseHostForNewSession } from '../hosts/placement.js';
import { reassignSession } from '../hosts/queries/session-owners.js';
import { emptyJsonBodyAsObject } from '../http/empty-json-body.js';
import { API_KEY_SECURITY, errorResponses, issuesOf, validationError } from '../http/openapi.js';
import { errorInfo } from '../logger.js';
import type { EdgeApp, EdgeServices } from '../services.js';
import { recordAudit } from '../tenancy/queries/audit.js';
import { insertSession } from '../tenancy/queries/sessions.js';

export const sessionCreateRoute = createRoute({
  operationId: 'sessionCreate',
  method: 'post',
  path: '/api/session/create',
  summary: 'Create a session and its session key',
  description:
    'Needs a tenant admin key. The session key is returned once; only its digest is stored. The ' +
    'session starts on a session host; ask for its QR code with the session key.',
  tags: ['Sessions'],
  security: [{ [API_KEY_SECURITY]: [] }],
  middleware: [requireScope('admin'), emptyJsonBodyAsObject()] as const,
  request: {
    body: { required: false, content: { 'application/json': { schema: CreateSessionBodySchema } } },
  },
  responses: {
    200: {
      description: 'Session created',
      content: { 'application/json': { schema: CreateSessionResponseSchema } },
    },
    ...errorResponses(400, 401, 403, 409, 413, 415, 503),
  },
});

/** A sessionId that is a string but not a valid one gets its own code; anything else is generic. */
function createBodyError(error: ZodError): ApiError {
  const badId = error.issues.some((i) => i.path[0] === 'sessionId' && i.code !== 'invalid_type');
  return badId ? new ApiError('INVALID_SESSION_ID', { details: issuesOf(error) }) : validationError(error);
}

/** POST /api/session/create */
export function registerSessionCreate(app: EdgeApp, services: EdgeServices): void {
  const { config, hosts, logger } = services;
  app.openapi(
    sessionCreateRoute,
    async (c) => {
      const admin = principalOf(c, 'admin');
      const body = c.req.valid('json');
      const name = body.sessionId ?? crypto.randomUUID();
      const key = await generateApiKey('session');

      // Session, owner and key together or not at all.
      const created = await dbOf(c)
        .transaction()
        .execute(async (trx) => {
          const session = await insertSession(trx, {
            tenantId: admin.tenantId,
            name,
            description: body.description ?? null,
          });
          if (!session) throw new ApiError('SESSION_ID_TAKEN');
          const host = await chooseHostForNewSession(trx);
          await reassignSession(trx, session.id, host.id);
          await insertApiKey(trx, {
            digest: key.digest,
            prefix: key.displayPrefix,
            scope: 'session',
            tenantId: admin.tenantId,
            sessionId: session.id,
            label: 'session key',
          });
          await recordAudit(trx, {
            tenantId: admin.tenantId,
            actor: admin.keyPrefix,
            action: 'session.create',
            target: session.id,
            detail: { name, hostId: host.id, sessionKey: key.displayPrefix },
          });
          return { sessionId: session.id, host };
        });
      logger.info(
        { tenantId: admin.tenantId, sessionId: created.sessionId, hostId: created.host.id },
        'session created',
      );

      // Best effort: a session that does not start now starts on its first QR request.
      try {
        const reply = await hosts.call(
          {
            host: created.host,
            sessionId: created.sessionId,
            tenantId: admin.tenantId,
            scope: admin.scope,
            timeoutMs: config.hostStartTimeoutMs,
          },
          { action: 'start' },
        );
        if (reply.status >= 300) {
          logger.warn(
            { sessionId: created.sessionId, hostId: created.host.id, status: reply.status },
            'host did not start the new session',
          );
        }
      } catch (err) {
        logger.warn(
          { sessionId: created.sessionId, hostId: created.host.id, err: errorInfo(err) },
          'host did not start the new session',
        );
      }

      const response: CreateSessionResponse = {
        success: true,
        sessionId: name,
        apiKey: key.key,
        message: SESSION_CREATED_MESSAGE,
      };
      return c.json(response, 200);
    },
    (result) => {
      if (!result.success) throw createBodyError(result.error);
    },
  );
}

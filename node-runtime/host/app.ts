import { Hono } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import type { Logger } from 'pino';
import QRCode from 'qrcode';
import { ApiError, errorResponse, toApiError } from '../../shared/errors.js';
import { HOST_HEALTH_PATH } from '../../shared/host-api.js';
import { type HostTokenClaims, HostTokenError, verifyHostToken } from '../../shared/jwt.js';
import { HostSendBodySchema, MAX_BODY_BYTES } from '../../shared/schemas.js';
import type { SessionHost, SessionView } from './sessions.js';

type Env = { Variables: { claims: HostTokenClaims } };

export type HostAppDeps = { sessions: SessionHost; hostId: string; secret: string; logger: Logger };

const toPng = (qr: string | null) =>
  qr ? QRCode.toDataURL(qr, { margin: 2, scale: 6 }) : Promise.resolve(null);

const withPng = async (view: SessionView) => ({ ...view, qrPng: await toPng(view.qr) });

/**
 * The session host's internal API (shared/host-api.ts). Only the edge calls it: every session route
 * needs the edge's JWT, addressed to this host and naming the session in the path.
 */
export const createHostApp = ({ sessions, hostId, secret, logger }: HostAppDeps) => {
  const app = new Hono<Env>();
  app.onError((err, c) => {
    const apiError = toApiError(err, c.req.raw);
    // Expected refusals are the client's business; anything else is ours, logged once, here.
    if (apiError.code === 'INTERNAL_ERROR') {
      logger.error({ err, sessionId: c.req.param('id'), path: c.req.path }, 'host request failed');
    }
    return errorResponse(apiError);
  });
  app.notFound(() => errorResponse(new ApiError('NOT_FOUND')));

  app.get(HOST_HEALTH_PATH, (c) => c.json({ hostId, sessions: sessions.size }));

  app.use('/internal/sessions/:id/*', async (c, next) => {
    const token = /^Bearer (.+)$/.exec(c.req.header('authorization') ?? '')?.[1];
    if (!token) throw new ApiError('INVALID_HOST_TOKEN');
    try {
      const claims = await verifyHostToken(token, { secret, hostId });
      if (claims.sessionId !== c.req.param('id')) throw new HostTokenError('wrong_audience');
      c.set('claims', claims);
    } catch (err) {
      throw new ApiError('INVALID_HOST_TOKEN', { cause: err });
    }
    await next();
  });
  app.use(
    '/internal/sessions/:id/*',
    bodyLimit({
      // The edge forwards at most the longest message, re-encoded: never more than the edge accepts.
      maxSize: MAX_BODY_BYTES,
      onError: () => {
        throw new ApiError('BODY_TOO_LARGE');
      },
    }),
  );

  const routes = app
    .post('/internal/sessions/:id/start', async (c) => c.json(await sessions.start(c.req.param('id'))))
    .get('/internal/sessions/:id/status', async (c) => c.json(await sessions.view(c.req.param('id'))))
    .get('/internal/sessions/:id/qr', async (c) =>
      c.json(await withPng(await sessions.qr(c.req.param('id')))),
    )
    .post('/internal/sessions/:id/send', async (c) => {
      const parsed = HostSendBodySchema.safeParse(await c.req.json().catch(() => undefined));
      if (!parsed.success) throw new ApiError('VALIDATION_ERROR');
      const { to, message } = parsed.data;
      const result = await sessions.send(c.req.param('id'), to, message);
      if (!result.ok) {
        if (result.error === 'not-connected') throw new ApiError('SESSION_NOT_AUTHENTICATED');
        if (result.error === 'reconnecting') throw new ApiError('SESSION_RECONNECTING');
        if (result.error === 'not-on-whatsapp') throw new ApiError('RECIPIENT_NOT_ON_WHATSAPP');
        throw new ApiError('INTERNAL_ERROR', { cause: result.cause ?? result.error });
      }
      const { key } = result.message;
      return c.json({
        key: { remoteJid: key.remoteJid ?? to, id: key.id ?? '', fromMe: true as const },
        message: { extendedTextMessage: { text: message } },
      });
    })
    .post('/internal/sessions/:id/logout', async (c) => c.json(await sessions.logout(c.req.param('id'))));
  return routes;
};

/** The host's route types, for the edge's typed client (`hc<HostApp>`). */
export type HostApp = ReturnType<typeof createHostApp>;

import { Readable } from 'node:stream';
import { OpenAPIHono } from '@hono/zod-openapi';
import type { Logger } from 'pino';
import QRCode from 'qrcode';
import { limitRequestBody } from '../../shared/body-limit.js';
import { ApiError, errorResponse, toApiError } from '../../shared/errors.js';
import {
  hostCheckRoute,
  hostHealthRoute,
  hostLogoutRoute,
  hostMediaDownloadRoute,
  hostMediaRoute,
  hostPairingCodeRoute,
  hostPresenceRoute,
  hostQrRoute,
  hostReadRoute,
  hostSendRoute,
  hostStartRoute,
  hostStatusRoute,
} from '../../shared/host-api.js';
import { type HostTokenClaims, HostTokenError, VerifiedTokens, verifyHostToken } from '../../shared/jwt.js';
import { MAX_BODY_BYTES } from '../../shared/schemas.js';
import { LeaseLostError } from '../db/lease-fence.js';
import type { HostMetrics } from '../metrics/host-metrics.js';
import type { SessionHost, SessionView } from './sessions.js';

type Env = { Variables: { claims: HostTokenClaims } };

export type HostAppDeps = {
  sessions: SessionHost;
  hostId: string;
  secret: string;
  logger: Logger;
  /** Counted per request and served at GET /metrics (Prometheus' text format). */
  metrics?: HostMetrics;
};

const toPng = (qr: string | null) =>
  qr ? QRCode.toDataURL(qr, { margin: 2, scale: 6 }) : Promise.resolve(null);

const withPng = async (view: SessionView) => ({ ...view, qrPng: await toPng(view.qr) });

/** `attachment` under the file's name, in RFC 6266's form that carries any character (RFC 5987). */
const contentDisposition = (fileName: string) => {
  const plain = fileName.replace(/[^\x20-\x7e]|["\\]/g, '_');
  return `attachment; filename="${plain}"; filename*=UTF-8''${encodeURIComponent(fileName)}`;
};

/** A file name's extension for a MIME type with an obvious one (`image/jpeg` → `.jpeg`). */
const extensionOf = (mimetype: string) => {
  const sub = /^[a-z]+\/([a-z0-9]+)/.exec(mimetype.toLowerCase())?.[1];
  return sub ? `.${sub}` : '';
};

/**
 * The session host's internal API: the routes declared in shared/host-api.ts, implemented here. Only the
 * edge calls it: every session route needs the edge's JWT, addressed to this host and naming the session
 * in the path.
 */
export const createHostApp = ({ sessions, hostId, secret, logger, metrics }: HostAppDeps) => {
  const app = new OpenAPIHono<Env>({
    // A body or path that does not fit the declared schema; only a broken edge sends one.
    defaultHook: (result) => {
      if (!result.success) throw new ApiError('VALIDATION_ERROR', { cause: result.error });
    },
  });
  app.onError((err, c) => {
    // A write for the session was refused: another host owns it now, and the edge asks that one.
    const apiError =
      err instanceof LeaseLostError ? new ApiError('SESSION_MOVED') : toApiError(err, c.req.raw);
    // Expected refusals are the client's business; anything else is ours, logged once, here.
    if (apiError.code === 'INTERNAL_ERROR') {
      logger.error({ err, sessionId: c.req.param('id'), path: c.req.path }, 'host request failed');
    }
    return errorResponse(apiError);
  });
  app.notFound(() => errorResponse(new ApiError('NOT_FOUND')));
  if (metrics) {
    app.use(metrics.middleware);
    // On the host's internal port, which only the edge and the operator's scraper reach.
    app.get('/metrics', async (c) =>
      c.body(await metrics.registry.metrics(), 200, { 'content-type': metrics.registry.contentType }),
    );
  }

  const verified = new VerifiedTokens();
  app.use('/internal/sessions/:id/*', async (c, next) => {
    const token = /^Bearer (.+)$/.exec(c.req.header('authorization') ?? '')?.[1];
    if (!token) throw new ApiError('INVALID_HOST_TOKEN');
    try {
      const claims = await verifyHostToken(token, { secret, hostId, verified });
      if (claims.sessionId !== c.req.param('id')) throw new HostTokenError('wrong_audience');
      c.set('claims', claims);
    } catch (err) {
      throw new ApiError('INVALID_HOST_TOKEN', { cause: err });
    }
    await next();
  });
  app.use(
    '/internal/sessions/:id/*',
    // The edge forwards at most the longest message, re-encoded: never more than the edge accepts.
    limitRequestBody(MAX_BODY_BYTES, () => {
      throw new ApiError('BODY_TOO_LARGE');
    }),
  );

  // Chained, so the app's type carries every route for the edge's typed client.
  return app
    .openapi(hostHealthRoute, (c) => c.json({ hostId, sessions: sessions.size }, 200))
    .openapi(hostStartRoute, async (c) => c.json(await sessions.start(c.req.valid('param').id), 200))
    .openapi(hostStatusRoute, async (c) => c.json(await sessions.view(c.req.valid('param').id), 200))
    .openapi(hostQrRoute, async (c) => c.json(await withPng(await sessions.qr(c.req.valid('param').id)), 200))
    .openapi(hostPairingCodeRoute, async (c) =>
      c.json(await sessions.pairingCode(c.req.valid('param').id, c.req.valid('json').phone), 200),
    )
    .openapi(hostSendRoute, async (c) => {
      const { messageId, fresh } = c.req.valid('json');
      const result = await sessions.sendQueued(c.req.valid('param').id, messageId, { fresh });
      if (!result.ok) {
        switch (result.error) {
          case 'not-connected':
            throw new ApiError('SESSION_NOT_AUTHENTICATED');
          case 'reconnecting':
            throw new ApiError('SESSION_RECONNECTING');
          case 'busy':
            throw new ApiError('SESSION_BUSY');
          case 'not-on-whatsapp':
            throw new ApiError('RECIPIENT_NOT_ON_WHATSAPP');
          default:
            throw new ApiError('INTERNAL_ERROR', {
              cause: new Error(`send ${result.error}: ${result.failure ?? ''}`),
            });
        }
      }
      return c.json(result.message, 200);
    })
    .openapi(hostMediaRoute, async (c) =>
      c.json(await sessions.fetchMedia(c.req.valid('param').id, c.req.valid('json')), 200),
    )
    .openapi(hostMediaDownloadRoute, async (c) => {
      const { id, messageId } = c.req.valid('param');
      const { stream, media } = await sessions.mediaFile(id, messageId);
      const headers: Record<string, string> = {
        'content-type': media.mimetype,
        'content-disposition': contentDisposition(
          media.fileName ?? `${messageId}${extensionOf(media.mimetype)}`,
        ),
      };
      return c.body(Readable.toWeb(stream) as ReadableStream, 200, headers);
    })
    .openapi(hostReadRoute, async (c) => {
      const { chat, messageIds } = c.req.valid('json');
      return c.json({ read: await sessions.readChat(c.req.valid('param').id, chat, messageIds) }, 200);
    })
    .openapi(hostPresenceRoute, async (c) => {
      const { chat, state } = c.req.valid('json');
      await sessions.presence(c.req.valid('param').id, chat, state);
      return c.json({ state }, 200);
    })
    .openapi(hostCheckRoute, async (c) =>
      c.json(
        { results: await sessions.checkNumbers(c.req.valid('param').id, c.req.valid('json').jids) },
        200,
      ),
    )
    .openapi(hostLogoutRoute, async (c) => c.json(await sessions.logout(c.req.valid('param').id), 200));
};

/** The host's routes and their types, for the edge's typed client (`hc<HostApp>`); erased at runtime. */
export type HostApp = ReturnType<typeof createHostApp>;

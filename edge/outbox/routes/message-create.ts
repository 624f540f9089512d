import { createRoute } from '@hono/zod-openapi';
import type { MiddlewareHandler } from 'hono';
import type { ZodError } from 'zod';
import { bytesToHex } from '../../../shared/api-key.js';
import { ApiError } from '../../../shared/errors.js';
import {
  MAX_INLINE_MEDIA_BYTES,
  MEDIA_LIMITS,
  type MultipartMessageBody,
  MultipartMessageSchema,
  type OutboxMessageBody,
  OutboxMessageBodySchema,
} from '../../../shared/message-content.js';
import { QueuedResponseSchema } from '../../../shared/outbox.js';
import { requireScope } from '../../auth/authenticate.js';
import { dbOf } from '../../context.js';
import { HostMediaReply, hostResult } from '../../hosts/replies.js';
import { emptyJsonBodyAsObject } from '../../http/empty-json-body.js';
import { API_KEY_SECURITY, errorResponses, validationError } from '../../http/openapi.js';
import type { EdgeApp, EdgeServices } from '../../services.js';
import { IDEMPOTENCY_HEADER_DOC, replay, senderOf } from '../answers.js';
import { idempotencyKeyOf, idempotentRequest } from '../idempotency.js';
import { prepareOutgoing, type Upload } from '../outgoing.js';
import { queueMessage } from '../queries.js';

export const messageCreateRoute = createRoute({
  operationId: 'messageCreate',
  method: 'post',
  path: '/api/messages',
  summary: 'Queue a message in the outbox',
  description:
    'Needs a session key. A text (the default `type`), a file (`image`, `video`, `audio`, `document`, ' +
    '`sticker`: from an https `url` the gateway downloads, or inline as base64 `data`), a `location`, a ' +
    '`contact` card or a `reaction`; `replyTo` quotes a message of this chat, `mentions` on any kind. The ' +
    'message is checked and stored in the outbox at once (202) and sent by the session, in order per chat ' +
    'and paced, under the WhatsApp `id` returned here; follow it with `GET /api/messages/{id}` or the ' +
    '`message.sent` and `message.status` events. It waits while the session reconnects, and fails ' +
    '(`failed`, with `failure`) if the number is not on WhatsApp, the session is logged out, or it is not ' +
    'sent within `ttlSeconds`. Files: images (jpeg, png, webp) up to 5 MB, video (mp4, 3gpp) and audio ' +
    '(aac, amr, mpeg, mp4, ogg, opus) up to 16 MB, documents (any type) up to 100 MB, stickers (webp) up ' +
    'to 500 KB; inline data at most 16 MB.',
  tags: ['Messages'],
  security: [{ [API_KEY_SECURITY]: [] }],
  middleware: [requireScope('session'), refuseUrlEncoded(), emptyJsonBodyAsObject()] as const,
  request: {
    headers: IDEMPOTENCY_HEADER_DOC,
    // Not `required`: each content type's validator then runs only for its own; the handler refuses a
    // request with neither.
    body: {
      required: false,
      content: {
        'application/json': { schema: OutboxMessageBodySchema },
        'multipart/form-data': { schema: MultipartMessageSchema },
      },
    },
  },
  responses: {
    202: { description: 'Queued', content: { 'application/json': { schema: QueuedResponseSchema } } },
    ...errorResponses(400, 401, 403, 404, 405, 413, 415, 422, 429),
  },
});

/** POST /api/messages */
export function registerMessageCreate(app: EdgeApp, { forwarder, now }: EdgeServices): void {
  app.openapi(messageCreateRoute, async (c) => {
    const key = idempotencyKeyOf(c);
    const multipart = isMultipart(c.req.header('content-type'));
    if (!multipart && c.req.header('content-type') === undefined) {
      throw validationError(OutboxMessageBodySchema.safeParse({}).error as ZodError);
    }
    // Each validator ran for its own content type only; their types are each other's union.
    const { body, upload } = multipart
      ? await fromForm(c.req.valid('form') as MultipartMessageBody)
      : { body: c.req.valid('json') as OutboxMessageBody, upload: undefined };
    const sender = senderOf(c);
    const outgoing = await prepareOutgoing(
      body,
      {
        db: dbOf(c),
        sender,
        fetchMedia: async (url, type) =>
          hostResult(
            await forwarder.toSessionHost(c, { action: 'media', body: { url, type } }),
            HostMediaReply,
            'media',
          ),
      },
      upload,
    );
    // The same request however the client wrote its numbers: hashed in the form it is queued in.
    const idempotency =
      key === undefined
        ? undefined
        : await idempotentRequest(key, 'POST /api/messages', {
            ...body,
            to: outgoing.to,
            ...(outgoing.content.mentions ? { mentions: outgoing.content.mentions } : {}),
            ...(upload ? { upload: await sha256Hex(upload.data) } : {}),
          });
    const queued = await queueMessage(
      dbOf(c),
      sender,
      {
        ...outgoing,
        ttlSeconds: body.ttlSeconds,
        idempotency,
        answer: (id) => ({ status: 202, body: { success: true, id, status: 'queued' } }),
        leaseMs: 0,
      },
      now(),
    );
    if ('replay' in queued) return replay(c, queued.replay) as never;
    // The owning host hears of it from PostgreSQL on commit (migrations/0010): no call to it here.
    return c.json({ success: true as const, id: queued.id, status: 'queued' as const }, 202);
  });
}

const isMultipart = (contentType: string | undefined) =>
  (contentType ?? '').toLowerCase().startsWith('multipart/form-data');

/** Forms other than multipart carry no file: the route takes JSON or an upload, nothing else. */
function refuseUrlEncoded(): MiddlewareHandler {
  return async (c, next) => {
    if ((c.req.header('content-type') ?? '').toLowerCase().startsWith('application/x-www-form-urlencoded')) {
      throw new ApiError('UNSUPPORTED_MEDIA_TYPE');
    }
    await next();
  };
}

/** A multipart upload as the JSON body it stands for, and its one file. */
async function fromForm(form: MultipartMessageBody): Promise<{ body: OutboxMessageBody; upload: Upload }> {
  const { file } = form;
  if (Array.isArray(file)) throw new ApiError('MEDIA_FILE_DUPLICATE');
  if (!(file instanceof Blob)) throw new ApiError('MEDIA_FILE_MISSING');
  const limit = Math.min(MEDIA_LIMITS[form.type].maxBytes, MAX_INLINE_MEDIA_BYTES);
  if (file.size > limit) throw new ApiError('MEDIA_TOO_LARGE', { details: { maxBytes: limit } });
  const name = file instanceof File && file.name && file.name !== 'blob' ? file.name : undefined;
  const fileName = form.fileName ?? name;
  const uploadedType = file.type && file.type !== 'application/octet-stream' ? file.type : undefined;
  const body: OutboxMessageBody = {
    to: form.to,
    type: form.type,
    media: {
      ...(form.mimetype ? { mimetype: form.mimetype } : {}),
      ...(fileName ? { fileName } : {}),
    },
    ...(form.caption !== undefined ? { caption: form.caption } : {}),
    ...(form.ptt === 'true' ? { ptt: true } : {}),
    ...(form.replyTo !== undefined ? { replyTo: form.replyTo } : {}),
    ...(form.mentions
      ? {
          mentions: form.mentions
            .split(',')
            .map((m) => m.trim())
            .filter(Boolean),
        }
      : {}),
    ...(form.ttlSeconds !== undefined ? { ttlSeconds: form.ttlSeconds } : {}),
  };
  const data = new Uint8Array(await file.arrayBuffer());
  return { body, upload: { data, ...(form.mimetype ? {} : uploadedType ? { mimetype: uploadedType } : {}) } };
}

async function sha256Hex(data: Uint8Array): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', new Uint8Array(data)));
  return bytesToHex(digest);
}

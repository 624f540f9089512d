import type { MiddlewareHandler } from 'hono';
import { limitRequestBody } from '../../shared/body-limit.js';
import { ApiError } from '../../shared/errors.js';
import { MAX_MEDIA_BODY_BYTES } from '../../shared/message-content.js';

/**
 * Refuses bodies over `maxBytes` with 413 BODY_TOO_LARGE, by Content-Length or while streaming; a message
 * may carry a file, so POST /api/messages takes up to MAX_MEDIA_BODY_BYTES.
 */
export function limitBody(maxBytes: number): MiddlewareHandler {
  return limitRequestBody(
    maxBytes,
    () => {
      // The rest of the upload is never read, so the connection cannot carry another request: saying so
      // keeps a client's connection pool from sending the next request into a socket about to close.
      throw new ApiError('BODY_TOO_LARGE', { headers: { Connection: 'close' } });
    },
    { 'POST /api/messages': Math.max(maxBytes, MAX_MEDIA_BODY_BYTES) },
  );
}

// What the edge accepts from a host, and what it tells the client about it. The readers are tolerant
// versions of the shared Host* schemas: a host may send a state this edge does not know yet, a push name of
// null (WhatsApp sends it later), or a LID as the recipient JID. A message that was sent must never turn
// into an error here, or clients send it twice.
import { z } from 'zod';
import { ApiError } from '../../shared/errors.js';
import {
  ErrorResponseSchema,
  HostLogoutResponseSchema,
  HostQrResponseSchema,
  HostSessionStatusSchema,
  type User,
} from '../../shared/schemas.js';
import type { HostReply } from './client.js';

const HostUser = z
  .object({ id: z.string().min(1), name: z.string().nullish() })
  .transform((u): User => (u.name ? { id: u.id, name: u.name } : { id: u.id }));

const state = z.string();

export const HostStatusReply = HostSessionStatusSchema.extend({ state, user: HostUser.optional() });

export const HostQrReply = HostQrResponseSchema.extend({
  state,
  qrPng: z.string().startsWith('data:image/png;base64,').nullish(),
  qr: z.string().nullish(),
  user: HostUser.optional(),
});

export const HostSendReply = z.object({
  key: z.object({ remoteJid: z.string(), id: z.string(), fromMe: z.boolean() }),
  message: z.object({ extendedTextMessage: z.object({ text: z.string() }) }),
});

export const HostLogoutReply = HostLogoutResponseSchema.extend({ state });

/**
 * The body of a successful host reply, read with `reader`. The reader must accept whatever the route
 * declares (`HostReply<T>`, from the typed client): a reader stricter than the host is a type error.
 * A host error becomes the same error for the client (same code, status and text), except a refused
 * token, which is our problem, not theirs.
 */
export function hostResult<S extends z.ZodType>(
  reply: HostReply<z.input<S>>,
  reader: S,
  call: string,
): z.output<S> {
  if (reply.status < 200 || reply.status >= 300) throw hostError(reply, call);
  const parsed = reader.safeParse(reply.body);
  if (!parsed.success) {
    throw new ApiError('INTERNAL_ERROR', {
      cause: new Error(`host answered ${call} with an unexpected body`, { cause: parsed.error }),
    });
  }
  return parsed.data;
}

/** The ApiError to give the client for a host's error reply. */
export function hostError(reply: HostReply, call: string): ApiError {
  const parsed = ErrorResponseSchema.safeParse(reply.body);
  if (!parsed.success) {
    const cause = new Error(`host answered ${call} with ${reply.status} and no error body`);
    return new ApiError(reply.status >= 500 ? 'HOST_UNAVAILABLE' : 'INTERNAL_ERROR', { cause });
  }
  const { code, error, details } = parsed.data;
  if (code === 'INVALID_HOST_TOKEN') {
    // Secrets or clocks disagree between edge and host: the operator must hear of it, the client must not.
    return new ApiError('HOST_UNAVAILABLE', {
      cause: new Error(`host refused the edge's token for ${call}`),
    });
  }
  const headers: Record<string, string> = reply.retryAfter ? { 'Retry-After': reply.retryAfter } : {};
  return new ApiError(code, { message: error, details, headers });
}

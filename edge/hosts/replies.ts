// What the edge accepts from a host, and what it tells the client about it. The readers are tolerant
// versions of the shared Host* schemas: a host may send a state this edge does not know yet, a push name of
// null (WhatsApp sends it later), or a LID as the recipient JID. A message that was sent must never turn
// into an error here, or clients send it twice.
import { z } from 'zod';
import { ApiError } from '../../shared/errors.js';
import { HostMediaResponseSchema } from '../../shared/message-content.js';
import {
  type ErrorResponse,
  ErrorResponseSchema,
  HostLogoutResponseSchema,
  HostPairingCodeResponseSchema,
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

export const HostSendReply = z.object({ id: z.string(), status: z.string() });

export const HostLogoutReply = HostLogoutResponseSchema.extend({ state });

export const HostMediaReply = HostMediaResponseSchema;

export const HostPairingCodeReply = HostPairingCodeResponseSchema;

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

/**
 * The ApiError to give the client for a host's error reply. The client gets the code's own body; what the
 * host said (status, code, text) stays in the cause, so the log of a 5xx shows it.
 */
export function hostError(reply: HostReply, call: string): ApiError {
  const parsed = ErrorResponseSchema.safeParse(reply.body);
  const said = parsed.success ? parsed.data : undefined;
  const cause = new HostReplyError(call, reply, said);
  if (!said) return new ApiError(reply.status >= 500 ? 'HOST_UNAVAILABLE' : 'INTERNAL_ERROR', { cause });
  // Secrets or clocks disagree between edge and host: the operator must hear of it, the client must not.
  if (said.code === 'INVALID_HOST_TOKEN') return new ApiError('HOST_UNAVAILABLE', { cause });
  const headers: Record<string, string> = reply.retryAfter ? { 'Retry-After': reply.retryAfter } : {};
  return new ApiError(said.code, { message: said.error, details: said.details, headers, cause });
}

/** For logs: what a host answered instead of success. `code` is the host's code, when it sent one. */
export class HostReplyError extends Error {
  readonly status: number;
  readonly code: string | undefined;

  constructor(call: string, reply: HostReply, said: ErrorResponse | undefined) {
    const what = said
      ? `${said.code} ${JSON.stringify(said.error)}${said.code === 'INVALID_HOST_TOKEN' ? " (host refused the edge's token)" : ''}`
      : `no error body${reply.text === undefined ? '' : `: ${JSON.stringify(reply.text)}`}`;
    super(`host answered ${call} with ${reply.status} ${what}`);
    this.name = 'HostReplyError';
    this.status = reply.status;
    this.code = said?.code;
  }
}

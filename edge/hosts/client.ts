// Calls to a session host's internal API (shared/host-api.ts), each with a freshly signed JWT.
// This is the one place that speaks to hosts: when the host exports its route type, the typed client
// (hc<HostApp>) goes here and nothing else changes.
import type { z } from 'zod';
import type { ApiKeyScope } from '../../shared/api-key.js';
import { ApiError } from '../../shared/errors.js';
import { type HostSessionAction, hostSessionPath } from '../../shared/host-api.js';
import { signHostToken } from '../../shared/jwt.js';
import { ErrorResponseSchema } from '../../shared/schemas.js';
import type { HostTarget } from './queries/hosts.js';

const METHODS: Record<HostSessionAction, 'GET' | 'POST'> = {
  start: 'POST',
  status: 'GET',
  qr: 'GET',
  send: 'POST',
  logout: 'POST',
};

export interface HostClientOptions {
  fetch: typeof fetch;
  secret: string;
  tokenTtlSeconds: number;
  timeoutMs: number;
}

export interface HostCall {
  host: HostTarget;
  action: HostSessionAction;
  /** sessions.id: the token's subject and the path's id. */
  sessionId: string;
  tenantId: string;
  /** Scope of the key the client called with. */
  scope: ApiKeyScope;
  body?: unknown;
  timeoutMs?: number;
}

/** What a host answered: its status and its JSON body (undefined when it sent none or not JSON). */
export interface HostReply {
  status: number;
  body: unknown;
  retryAfter: string | null;
}

export interface HostClient {
  /** Sends one request; 503 HOST_UNAVAILABLE when the host cannot be reached in time. */
  call(call: HostCall): Promise<HostReply>;
}

/** A client for the hosts' internal API. */
export function createHostClient(options: HostClientOptions): HostClient {
  return {
    async call(call) {
      // Signed per call: a host accepts each token id once, so even a retry needs a new token.
      const token = await signHostToken({
        secret: options.secret,
        hostId: call.host.id,
        tenantId: call.tenantId,
        sessionId: call.sessionId,
        scope: call.scope,
        ttlSeconds: options.tokenTtlSeconds,
      });
      const url = call.host.internalUrl.replace(/\/+$/, '') + hostSessionPath(call.sessionId, call.action);
      const headers = new Headers({ authorization: `Bearer ${token}`, accept: 'application/json' });
      let body: string | undefined;
      if (call.body !== undefined) {
        headers.set('content-type', 'application/json');
        body = JSON.stringify(call.body);
      }
      try {
        const response = await options.fetch(url, {
          method: METHODS[call.action],
          headers,
          body,
          signal: AbortSignal.timeout(call.timeoutMs ?? options.timeoutMs),
        });
        const text = await response.text();
        return {
          status: response.status,
          body: parseJson(text),
          retryAfter: response.headers.get('retry-after'),
        };
      } catch (err) {
        // Refused, reset, DNS, TLS or timed out: for the client it is all the same, try again shortly.
        throw new ApiError('HOST_UNAVAILABLE', { cause: new HostCallError(call, err) });
      }
    },
  };
}

/** For logs: which host and call failed, without the token or the body. */
export class HostCallError extends Error {
  constructor(call: HostCall, cause: unknown) {
    super(`host ${call.host.id} ${call.action} for session ${call.sessionId} failed`, { cause });
    this.name = 'HostCallError';
  }
}

function parseJson(text: string): unknown {
  if (text === '') return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/**
 * The body of a successful host reply, checked against its schema. A host error becomes the same error
 * for the client (same code, status and text), except a refused token, which is our problem, not theirs.
 */
export function hostResult<S extends z.ZodType>(reply: HostReply, schema: S, call: string): z.output<S> {
  if (reply.status < 200 || reply.status >= 300) throw hostError(reply, call);
  const parsed = schema.safeParse(reply.body);
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

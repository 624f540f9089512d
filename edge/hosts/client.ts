// Calls to a session host's internal API (shared/host-api.ts). Paths come from Hono's typed client over
// the host app's type: a route the host no longer serves, or serves with another parameter, is a type
// error here. Only the type comes from node-runtime/ (`import type` is erased on every runtime), so the
// edge stays web-standard; the request itself goes over a transport (./transport.ts). Each call carries
// a JWT for its host, session and scope (shared/jwt.ts).
import { hc, type InferRequestType, type InferResponseType } from 'hono/client';
import type { z } from 'zod';
import type { HostApp } from '../../node-runtime/host/app.js';
import type { ApiKeyScope } from '../../shared/api-key.js';
import { setNewest } from '../../shared/bounded-map.js';
import type { HostCheckBodySchema, HostPresenceBodySchema, HostReadBodySchema } from '../../shared/chats.js';
import { ApiError } from '../../shared/errors.js';
import { type HostSessionAction, IDEMPOTENT_HOST_ACTIONS } from '../../shared/host-api.js';
import { signHostToken } from '../../shared/jwt.js';
import type { HostMediaBody } from '../../shared/message-content.js';
import type { HostPairingCodeBody, HostSendBody } from '../../shared/schemas.js';
import { type EdgeLogger, errorInfo } from '../logger.js';
import type { HostTarget } from './queries/hosts.js';
import type { HostHttpResponse, HostTransport } from './transport.js';

type SessionRoutes = ReturnType<typeof hc<HostApp>>['internal']['sessions'][':id'];

/** What each host route declares it answers with 200, as the typed client sees it. */
export interface HostReplies {
  start: InferResponseType<SessionRoutes['start']['$post'], 200>;
  status: InferResponseType<SessionRoutes['status']['$get'], 200>;
  qr: InferResponseType<SessionRoutes['qr']['$get'], 200>;
  send: InferResponseType<SessionRoutes['send']['$post'], 200>;
  media: InferResponseType<SessionRoutes['media']['$post'], 200>;
  read: InferResponseType<SessionRoutes['read']['$post'], 200>;
  presence: InferResponseType<SessionRoutes['presence']['$post'], 200>;
  check: InferResponseType<SessionRoutes['check']['$post'], 200>;
  'pairing-code': InferResponseType<SessionRoutes['pairing-code']['$post'], 200>;
  logout: InferResponseType<SessionRoutes['logout']['$post'], 200>;
}

/** Which host route, and its body where it takes one. */
export type HostRequest =
  | { action: 'send'; body: HostSendBody }
  | { action: 'media'; body: HostMediaBody }
  | { action: 'read'; body: z.infer<typeof HostReadBodySchema> }
  | { action: 'presence'; body: z.infer<typeof HostPresenceBodySchema> }
  | { action: 'check'; body: z.infer<typeof HostCheckBodySchema> }
  | { action: 'pairing-code'; body: HostPairingCodeBody }
  | {
      action: Exclude<HostSessionAction, 'send' | 'media' | 'read' | 'presence' | 'check' | 'pairing-code'>;
      body?: undefined;
    };

/** Which host, for which session and caller. */
export interface HostCallTarget {
  host: HostTarget;
  /** sessions.id: the token's subject and the path's id. */
  sessionId: string;
  tenantId: string;
  /** Scope of the key the client called with. */
  scope: ApiKeyScope;
  /** How long the whole call may take, a retry included. */
  timeoutMs?: number;
}

/**
 * What a host answered: its status and its JSON body (undefined when it sent none or not JSON). `T` is what
 * the route declares for a 200; it is never set, only carried for the type-check of the reply's readers.
 */
export interface HostReply<T = unknown> {
  status: number;
  body: unknown;
  /** The raw body when it was not JSON (for the log), cut short. */
  text?: string;
  retryAfter: string | null;
  readonly declared?: T;
}

export interface HostClientOptions {
  transport: HostTransport;
  secret: string;
  tokenTtlSeconds: number;
  timeoutMs: number;
  logger: EdgeLogger;
}

export interface HostClient {
  /**
   * Sends one request; 503 HOST_UNAVAILABLE when the host cannot be reached in time. An idempotent call
   * (IDEMPOTENT_HOST_ACTIONS) whose connection was reset before any response is sent once more.
   */
  call<A extends HostSessionAction>(
    to: HostCallTarget,
    request: HostRequest & { action: A },
  ): Promise<HostReply<HostReplies[A]>>;
  /**
   * Opens a received message's file on the host: its body as it streams and the headers to pass on, or
   * the host's error reply. `timeoutMs` bounds the whole download.
   */
  openMedia(
    to: HostCallTarget,
    messageId: string,
  ): Promise<
    | { ok: true; body: ReadableStream<Uint8Array>; headers: Record<string, string> }
    | { ok: false; reply: HostReply }
  >;
}

/** At most this many tokens are kept for reuse; the oldest goes first. */
const MAX_KEPT_TOKENS = 10_000;

/** The longest raw (non-JSON) body kept for the log. */
const MAX_RAW_TEXT = 200;

/** Stands for the session id in the paths below (hc puts path parameters in as they are). */
const ID_SLOT = '{session}';

/** Each session route's path, from the typed client once rather than through its proxies per call. */
const sessionPaths = ((session: SessionRoutes): Record<HostSessionAction, string> => {
  const param = { id: ID_SLOT };
  return {
    start: session.start.$path({ param }),
    status: session.status.$path({ param }),
    qr: session.qr.$path({ param }),
    send: session.send.$path({ param }),
    media: session.media.$path({ param }),
    read: session.read.$path({ param }),
    presence: session.presence.$path({ param }),
    check: session.check.$path({ param }),
    'pairing-code': session['pairing-code'].$path({ param }),
    logout: session.logout.$path({ param }),
  };
})(hc<HostApp>('').internal.sessions[':id']);

/** A client for the hosts' internal API. */
export function createHostClient(options: HostClientOptions): HostClient {
  // One token per host, tenant, session and scope, reused for the first half of its life (the host
  // keeps the ones it verified): signing one per call was 8% of the edge's CPU in a status call.
  const tokens = new Map<string, { token: string; renewAtMs: number }>();
  /** A kept token as it is (no promise to wait for), or a new one signed. */
  const tokenFor = (to: HostCallTarget): string | Promise<string> => {
    const key = `${to.host.id} ${to.tenantId} ${to.sessionId} ${to.scope}`;
    const nowMs = Date.now();
    const kept = tokens.get(key);
    return kept && kept.renewAtMs > nowMs ? kept.token : signToken(to, key, nowMs);
  };
  const signToken = async (to: HostCallTarget, key: string, nowMs: number) => {
    const token = await signHostToken({
      secret: options.secret,
      hostId: to.host.id,
      tenantId: to.tenantId,
      sessionId: to.sessionId,
      scope: to.scope,
      ttlSeconds: options.tokenTtlSeconds,
    });
    const renewAtMs = nowMs + (options.tokenTtlSeconds * 1000) / 2;
    setNewest(tokens, key, { token, renewAtMs }, MAX_KEPT_TOKENS);
    return token;
  };
  /** Sends the request with what is left of the call's time (`deadline`, in `Date.now()` terms). */
  const send = async (to: HostCallTarget, request: HostRequest, deadline: number) => {
    const kept = tokenFor(to);
    const token = typeof kept === 'string' ? kept : await kept;
    const timeoutMs = Math.max(1, deadline - Date.now());
    const base = to.host.internalUrl.replace(/\/+$/, '');
    const id = encodeURIComponent(to.sessionId);
    const path = (action: HostSessionAction) => sessionPaths[action].replace(ID_SLOT, id);
    // Only what the host reads: every header is parsed on both sides of the hop.
    const headers: Record<string, string> = { authorization: `Bearer ${token}` };
    const post = (path: string, body: unknown) =>
      options.transport({
        url: base + path,
        method: 'POST',
        headers: { ...headers, 'content-type': 'application/json' },
        body: JSON.stringify(body),
        timeoutMs,
      });
    const get = (path: string) => options.transport({ url: base + path, method: 'GET', headers, timeoutMs });
    switch (request.action) {
      case 'start':
        return post(path('start'), {});
      case 'status':
        return get(path('status'));
      case 'qr':
        return get(path('qr'));
      case 'send': {
        const body: InferRequestType<SessionRoutes['send']['$post']>['json'] = request.body;
        return post(path('send'), body);
      }
      case 'media': {
        const body: InferRequestType<SessionRoutes['media']['$post']>['json'] = request.body;
        return post(path('media'), body);
      }
      case 'read': {
        const body: InferRequestType<SessionRoutes['read']['$post']>['json'] = request.body;
        return post(path('read'), body);
      }
      case 'presence': {
        const body: InferRequestType<SessionRoutes['presence']['$post']>['json'] = request.body;
        return post(path('presence'), body);
      }
      case 'check': {
        const body: InferRequestType<SessionRoutes['check']['$post']>['json'] = request.body;
        return post(path('check'), body);
      }
      case 'pairing-code': {
        const body: InferRequestType<SessionRoutes['pairing-code']['$post']>['json'] = request.body;
        return post(path('pairing-code'), body);
      }
      case 'logout':
        return post(path('logout'), {});
    }
  };

  return {
    async openMedia(to, messageId) {
      const base = to.host.internalUrl.replace(/\/+$/, '');
      const path = hc<HostApp>(base).internal.sessions[':id'].messages[':messageId'].media.$path({
        param: { id: encodeURIComponent(to.sessionId), messageId: encodeURIComponent(messageId) },
      });
      let response: HostHttpResponse;
      try {
        response = await options.transport({
          url: base + path,
          method: 'GET',
          headers: { authorization: `Bearer ${await tokenFor(to)}` },
          timeoutMs: to.timeoutMs ?? options.timeoutMs,
          streamed: true,
        });
      } catch (err) {
        throw new ApiError('HOST_UNAVAILABLE', { cause: new HostCallError(to, 'media download', err) });
      }
      if (response.status !== 200) {
        const text = await response.read().catch(() => '');
        return {
          ok: false,
          reply: { status: response.status, body: parseJson(text), retryAfter: retryAfterOf(response) },
        };
      }
      const headers: Record<string, string> = {};
      for (const name of ['content-type', 'content-disposition', 'content-length']) {
        const value = response.header(name);
        if (value !== null) headers[name] = value;
      }
      return { ok: true, body: response.stream(), headers };
    },
    async call(to, request) {
      const deadline = Date.now() + (to.timeoutMs ?? options.timeoutMs);
      const unavailable = (err: unknown) =>
        // Refused, reset, DNS, TLS or timed out: for the client it is all the same, try again shortly.
        new ApiError('HOST_UNAVAILABLE', { cause: new HostCallError(to, request.action, err) });
      let response: Awaited<ReturnType<typeof send>>;
      try {
        response = await send(to, request, deadline);
      } catch (err) {
        // Closed or reset before any answer, most often a pooled connection the host closed just as it
        // was reused. A call that changes nothing when repeated goes once more, on a new connection; a
        // send or logout may have been carried out all the same, so it never does.
        if (
          !IDEMPOTENT_HOST_ACTIONS.has(request.action) ||
          Date.now() >= deadline ||
          !isConnectionReset(err)
        ) {
          throw unavailable(err);
        }
        options.logger.info(
          { hostId: to.host.id, sessionId: to.sessionId, action: request.action, err: errorInfo(err) },
          'host connection reset; retrying once',
        );
        try {
          response = await send(to, request, deadline);
        } catch (again) {
          throw unavailable(again);
        }
      }
      // Once the host has answered, nothing is sent again, whatever happens to the body.
      let text: string;
      try {
        text = await response.read();
      } catch (err) {
        throw unavailable(err);
      }
      const body = parseJson(text);
      return {
        status: response.status,
        body,
        ...(body === undefined && text !== '' ? { text: text.slice(0, MAX_RAW_TEXT) } : {}),
        retryAfter: retryAfterOf(response),
      };
    },
  };
}

// undici (Node's fetch): the peer closed or reset the socket; hyper (Deno's fetch) says the last one.
const RESET_CODES = new Set(['ECONNRESET', 'EPIPE', 'UND_ERR_SOCKET']);
const RESET_MESSAGES = /other side closed|socket hang up|connection closed before message completed/i;

/** Whether `err` (or one of its causes) says the connection was closed or reset under the request. */
export function isConnectionReset(err: unknown): boolean {
  for (let e = err, depth = 0; e instanceof Error && depth < 5; e = e.cause, depth++) {
    const code = Reflect.get(e, 'code');
    if (typeof code === 'string' && RESET_CODES.has(code)) return true;
    if (RESET_MESSAGES.test(e.message)) return true;
  }
  return false;
}

/** For logs: which host and call failed, without the token or the body. */
export class HostCallError extends Error {
  constructor(to: HostCallTarget, action: string, cause: unknown) {
    super(`host ${to.host.id} ${action} for session ${to.sessionId} failed`, { cause });
    this.name = 'HostCallError';
  }
}

/**
 * Retry-After, where it means something (an error). Not read from a success: in one process a
 * host's answer is a WHATWG Response, whose headers cost a Headers object to read.
 */
const retryAfterOf = (response: HostHttpResponse) =>
  response.status < 400 ? null : response.header('retry-after');

function parseJson(text: string): unknown {
  if (text === '') return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

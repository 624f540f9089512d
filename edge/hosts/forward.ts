import { setNewest } from '../../shared/bounded-map.js';
import { ApiError, errorBody } from '../../shared/errors.js';
import type { HostSessionAction } from '../../shared/host-api.js';
import { SharedReads } from '../../shared/shared-reads.js';
import { dbOf, type EdgeContext, principalOf } from '../context.js';
import type { EdgeLogger } from '../logger.js';
import type { HostClient, HostReplies, HostReply, HostRequest } from './client.js';
import { routeSession, type SessionRoute } from './placement.js';
import type { HostTarget } from './queries/hosts.js';

export interface Forwarder {
  /**
   * Sends the calling session key's request to the host that owns its session. The session is always the
   * key's own: nothing in the request can name another one.
   */
  toSessionHost<A extends HostSessionAction>(
    c: EdgeContext,
    request: HostRequest & { action: A },
  ): Promise<HostReply<HostReplies[A]>>;
  /** Opens a received message's file on the session's host (its own message: the key's session). */
  openMedia(c: EdgeContext, messageId: string): ReturnType<HostClient['openMedia']>;
}

/** How long a client may take to download a file through the edge. */
const MEDIA_DOWNLOAD_TIMEOUT_MS = 10 * 60_000;

export interface ForwarderOptions {
  hosts: HostClient;
  logger: EdgeLogger;
  timeoutMsFor(action: HostSessionAction): number;
  /** How long a session's owning host is remembered; 0 looks it up on every request. */
  routeCacheMs: number;
  now(): Date;
}

/**
 * A host's answer that it did nothing for the session because it is not (or no longer) the one to run
 * it: SESSION_MOVED, or HOST_UNAVAILABLE (stopping, or its lease lapsed).
 */
const handedOver = (reply: HostReply) => {
  if (reply.status !== 409 && reply.status !== 503) return false;
  const code = (reply.body as { code?: unknown } | undefined)?.code;
  return code === 'SESSION_MOVED' || code === 'HOST_UNAVAILABLE';
};

/**
 * What the client hears when the session is still between hosts after the retry: 503 with Retry-After,
 * never the hosts' own SESSION_MOVED.
 */
const stillMoving = <T>(reply: HostReply<T>): HostReply<T> => {
  if (reply.status === 503) return reply;
  const unavailable = new ApiError('HOST_UNAVAILABLE');
  return {
    ...reply,
    status: unavailable.status,
    body: errorBody(unavailable) as T,
    retryAfter: unavailable.headers['Retry-After'] ?? null,
  };
};

/** At most this many sessions' owners are remembered; the oldest goes first. */
const ROUTE_CACHE_SIZE = 10_000;

/** Routes session-key requests to their owning host, moving the session first when its owner is dead. */
export function createForwarder(options: ForwarderOptions): Forwarder {
  // Owners change only when a host dies (then the forward fails and the entry is dropped) or drains:
  // a few seconds of memory save a database round trip on nearly every request.
  const owners = new Map<string, { host: HostTarget; until: number }>();
  // Requests for one session that miss together share one look-up, unless a host said a session moved
  // since it began (`moves`).
  const lookingUp = new SharedReads<SessionRoute>();
  let moves = 0;
  const ownerOf = async (c: EdgeContext, sessionId: string): Promise<SessionRoute> => {
    const now = options.now().getTime();
    const known = owners.get(sessionId);
    if (known && known.until > now) return { host: known.host, moved: false };
    const db = dbOf(c);
    const look = lookingUp.share(db, sessionId, moves, () => routeSession(db, sessionId));
    // A move is reported to the request that made it, which starts the session on its new host.
    if (look.joined) return look.value.then((route) => ({ host: route.host, moved: false }));
    const found = await look.value;
    if (options.routeCacheMs > 0) {
      setNewest(owners, sessionId, { host: found.host, until: now + options.routeCacheMs }, ROUTE_CACHE_SIZE);
    }
    return found;
  };
  return {
    async openMedia(c, messageId) {
      const principal = principalOf(c, 'session');
      const { host } = await ownerOf(c, principal.sessionId);
      const target = {
        host,
        sessionId: principal.sessionId,
        tenantId: principal.tenantId,
        scope: principal.scope,
        timeoutMs: MEDIA_DOWNLOAD_TIMEOUT_MS,
      };
      return options.hosts.openMedia(target, messageId).catch((err: unknown) => {
        owners.delete(principal.sessionId);
        throw err;
      });
    },
    async toSessionHost<A extends HostSessionAction>(c: EdgeContext, request: HostRequest & { action: A }) {
      const principal = principalOf(c, 'session');
      const forward = async (route: { host: HostTarget; moved: boolean }) => {
        const target = {
          host: route.host,
          sessionId: principal.sessionId,
          tenantId: principal.tenantId,
          scope: principal.scope,
        };
        if (route.moved) {
          options.logger.warn(
            { sessionId: principal.sessionId, tenantId: principal.tenantId, hostId: route.host.id },
            'session moved from a dead host',
          );
          // Let the new owner resume the session now (linked sessions reconnect without a QR); the
          // request itself follows regardless of how this goes.
          if (request.action !== 'start') {
            await options.hosts
              .call({ ...target, timeoutMs: options.timeoutMsFor('start') }, { action: 'start' })
              .catch(() => undefined);
          }
        }
        return options.hosts
          .call<A>({ ...target, timeoutMs: options.timeoutMsFor(request.action) }, request)
          .catch((err: unknown) => {
            owners.delete(principal.sessionId); // look the owner up again next time
            throw err;
          });
      };
      const first = await ownerOf(c, principal.sessionId);
      const reply = await forward(first);
      if (!handedOver(reply)) return reply;
      // The host no longer runs the session (a failover or a drain moved it), or cannot take it now:
      // it did nothing. Once more, on the owner the database names now.
      owners.delete(principal.sessionId);
      moves++; // looked up afresh: a look-up under way may have begun before the session moved
      const again = await ownerOf(c, principal.sessionId);
      if (again.host.id === first.host.id && !again.moved) return stillMoving(reply);
      const retried = await forward(again);
      if (!handedOver(retried)) return retried;
      owners.delete(principal.sessionId);
      return stillMoving(retried);
    },
  };
}

import type { Kysely } from 'kysely';
import type { Database } from '../../shared/db-schema.js';
import { ApiError } from '../../shared/errors.js';
import { type HostTarget, leastLoadedLiveHost } from './queries/hosts.js';
import { findSessionOwner, reassignSession } from './queries/session-owners.js';

export type { HostTarget } from './queries/hosts.js';

/** A live host to place a new session on; 503 HOST_UNAVAILABLE when none is. */
export async function chooseHostForNewSession(db: Kysely<Database>): Promise<HostTarget> {
  const host = await leastLoadedLiveHost(db);
  if (!host) throw new ApiError('HOST_UNAVAILABLE');
  return host;
}

export interface SessionRoute {
  host: HostTarget;
  /** The session was just moved here from a dead (or no) owner. */
  moved: boolean;
}

/**
 * The host to forward a session's request to: its owner while that one is alive (draining or not),
 * otherwise a live host it is moved to under a new lease epoch. 404 SESSION_NOT_FOUND when the session is
 * gone, 503 HOST_UNAVAILABLE when no host is alive.
 */
export async function routeSession(db: Kysely<Database>, sessionId: string): Promise<SessionRoute> {
  const owner = await findSessionOwner(db, sessionId);
  if (!owner) throw new ApiError('SESSION_NOT_FOUND');
  if (owner.live && owner.hostId && owner.internalUrl) {
    return { host: { id: owner.hostId, internalUrl: owner.internalUrl }, moved: false };
  }
  return db.transaction().execute(async (trx) => {
    // Under the row lock, look again: another edge may have moved it a moment ago.
    const locked = await findSessionOwner(trx, sessionId, { forUpdate: true });
    if (!locked) throw new ApiError('SESSION_NOT_FOUND');
    if (locked.live && locked.hostId && locked.internalUrl) {
      return { host: { id: locked.hostId, internalUrl: locked.internalUrl }, moved: false };
    }
    const host = await chooseHostForNewSession(trx);
    await reassignSession(trx, sessionId, host.id);
    return { host, moved: true };
  });
}

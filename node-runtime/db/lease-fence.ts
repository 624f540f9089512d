// Fencing: every write a host makes for a session holds the session's row in share mode while the row
// still names this host and the lease epoch it took. A claim by another host (an UPDATE bumping the
// epoch) waits for such writes to commit, and every write after it finds the epoch moved and is refused:
// a host that lost a session can never write over its new owner.
import { type Kysely, type RawBuilder, sql } from 'kysely';
import type { Database } from '../../shared/db-schema.js';

/** A write for a session whose lease this host no longer holds; the session must stop here at once. */
export class LeaseLostError extends Error {
  constructor(readonly sessionId: string) {
    super(`lease of session ${sessionId} lost: another host owns it now`);
    this.name = 'LeaseLostError';
  }
}

/** What a writer needs to fence its writes: this host's id and the epoch of each session it runs. */
export interface Fence {
  hostId: string;
  /** The epoch this host holds the session under; undefined once the session stopped here. */
  epochOf(sessionId: string): string | undefined;
  /** A write was refused: stop the session here (it runs elsewhere now). */
  lost(sessionId: string): void;
}

/**
 * In a transaction: locks the session's row in share mode while this host holds its lease, so a claim
 * waits until the transaction ends; throws LeaseLostError (after telling the fence) when it does not.
 */
export async function holdLease(trx: Kysely<Database>, fence: Fence, sessionId: string): Promise<void> {
  const held =
    fence.epochOf(sessionId) !== undefined &&
    (await sql`${heldCte(fence, [sessionId])}`.execute(trx)).rows.length > 0;
  if (!held) throw lostLease(fence, sessionId);
}

/**
 * The fence as one run of a session sees it: the lease holds only while this host holds it under the
 * epoch it held when the run began. A session stopped and started again here runs under a new epoch, so
 * a late write of the earlier run (Baileys retries a refused key commit for 30 s) is refused instead of
 * landing over the new run's keys; being stale, it stops nothing.
 */
export function fenceOfRun(fence: Fence, sessionId: string): Fence {
  const epoch = fence.epochOf(sessionId);
  const current = () => epoch !== undefined && fence.epochOf(sessionId) === epoch;
  return {
    hostId: fence.hostId,
    epochOf: (id) => (id === sessionId && current() ? epoch : undefined),
    lost: (id) => {
      if (id === sessionId && current()) fence.lost(id);
    },
  };
}

/** Tells the fence, and makes the error to throw. */
export function lostLease(fence: Fence, sessionId: string): LeaseLostError {
  fence.lost(sessionId);
  return new LeaseLostError(sessionId);
}

/**
 * The body of the `held` CTE a fenced statement begins with: the sessions among `sessionIds` whose
 * leases this host holds, their rows locked in share mode until the statement commits (`holdLease` runs
 * it alone in a transaction). Writing only for the sessions in `held`, in the same statement, makes the
 * check and the write one atomic round trip instead of a transaction of four (BEGIN, the lock, the
 * write, COMMIT). Unfenced: every session given, nothing locked.
 */
export function heldCte(fence: Fence | undefined, sessionIds: readonly string[]): RawBuilder<unknown> {
  const distinct = [...new Set(sessionIds)];
  if (!fence) return sql`select unnest(${distinct}::uuid[]) as id`;
  const ids = distinct.filter((id) => fence.epochOf(id) !== undefined);
  const epochs = ids.map((id) => fence.epochOf(id));
  return sql`select s.id from sessions s
    join unnest(${ids}::uuid[], ${epochs}::bigint[]) as l(id, epoch) on s.id = l.id and s.lease_epoch = l.epoch
    where s.host_id = ${fence.hostId}
    for share of s`;
}

/**
 * One result per item, as a fenced statement answered: LeaseLostError (the fence told) for the items of
 * sessions it did not hold, `result` for the others.
 */
export function unlessLost<T, R>(
  fence: Fence | undefined,
  items: readonly T[],
  sessionOf: (item: T) => string,
  held: ReadonlySet<string>,
  result: (item: T, index: number) => R,
): (R | LeaseLostError)[] {
  return items.map((item, i) => {
    const session = sessionOf(item);
    return !fence || held.has(session) ? result(item, i) : lostLease(fence, session);
  });
}

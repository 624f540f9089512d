// Fencing: every write a host makes for a session holds the session's row in share mode while the row
// still names this host and the lease epoch it took. A claim by another host (an UPDATE bumping the
// epoch) waits for such writes to commit, and every write after it finds the epoch moved and is refused:
// a host that lost a session can never write over its new owner.
import { type Kysely, sql } from 'kysely';
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
  const held = await heldLeases(trx, fence, [sessionId]);
  if (!held.has(sessionId)) throw lostLease(fence, sessionId);
}

/** The sessions among `sessionIds` whose leases this host holds, their rows locked as `holdLease` does. */
export async function heldLeases(
  trx: Kysely<Database>,
  fence: Fence,
  sessionIds: readonly string[],
): Promise<Set<string>> {
  const ids: string[] = [];
  const epochs: string[] = [];
  for (const id of new Set(sessionIds)) {
    const epoch = fence.epochOf(id);
    if (epoch === undefined) continue;
    ids.push(id);
    epochs.push(epoch);
  }
  if (ids.length === 0) return new Set();
  const { rows } = await sql<{ id: string }>`
    select s.id from sessions s
    join unnest(${ids}::uuid[], ${epochs}::bigint[]) as l(id, epoch) on s.id = l.id and s.lease_epoch = l.epoch
    where s.host_id = ${fence.hostId}
    for share of s`.execute(trx);
  return new Set(rows.map((r) => r.id));
}

/** Tells the fence, and makes the error to throw. */
export function lostLease(fence: Fence, sessionId: string): LeaseLostError {
  fence.lost(sessionId);
  return new LeaseLostError(sessionId);
}

/**
 * A group write fenced per session: in one transaction, the items of sessions this host holds are
 * written (their rows locked), the others refused with LeaseLostError.
 */
export function fencedBatch<T, R>(
  db: Kysely<Database>,
  fence: Fence,
  sessionOf: (item: T) => string,
  write: (db: Kysely<Database>, items: T[]) => Promise<R[]>,
): (items: T[]) => Promise<(R | LeaseLostError)[]> {
  return (items) =>
    db.transaction().execute(async (trx) => {
      const held = await heldLeases(trx, fence, items.map(sessionOf));
      const kept = items.filter((item) => held.has(sessionOf(item)));
      const written = kept.length > 0 ? await write(trx, kept) : [];
      const results = new Map(kept.map((item, i) => [item, written[i] as R]));
      return items.map((item) =>
        results.has(item) ? (results.get(item) as R) : lostLease(fence, sessionOf(item)),
      );
    });
}

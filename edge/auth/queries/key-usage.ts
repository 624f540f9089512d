import { type Kysely, sql } from 'kysely';
import type { Database } from '../../../shared/db-schema.js';

/** When a key was last used, as the edge buffered it. */
export interface KeyUse {
  keyId: string;
  at: Date;
}

/**
 * Records last-used times for many keys in one UPDATE. GREATEST never moves a time backwards, so a late
 * batch from another edge instance cannot undo a newer one (and a NULL column takes the new time).
 */
export async function recordKeyUses(db: Kysely<Database>, uses: readonly KeyUse[]): Promise<number> {
  if (uses.length === 0) return 0;
  // Sorted, so two instances flushing overlapping batches tend to lock rows in the same order.
  const sorted = [...uses].sort((a, b) => (a.keyId < b.keyId ? -1 : a.keyId > b.keyId ? 1 : 0));
  const rows = sql.join(sorted.map((u) => sql`(${u.keyId}::uuid, ${u.at}::timestamptz)`));
  const result = await db
    .updateTable('api_keys')
    // A VALUES list names its columns in the alias: `as used(id, at)`.
    .from(sql<{ id: string; at: Date }>`(values ${rows})`.as<'used'>(sql`used(id, at)`))
    .set({ last_used_at: sql`greatest(api_keys.last_used_at, used.at)` })
    .whereRef('api_keys.id', '=', 'used.id')
    .executeTakeFirst();
  return Number(result.numUpdatedRows);
}

// The key look-up cache: a key that was looked up a moment ago costs no database round trip.
//
// The promise: a key that is revoked, expired, re-rolled past its overlap or whose tenant is suspended is
// refused by every edge instance within 5 seconds. How the cache keeps it, with nothing Workers lack
// (no shared store, no pub/sub, no timers between requests):
//
// - Expiry and the end of a re-roll overlap are dates on the key, judged against the clock on every
//   request (authenticate.ts), never cached as "valid". They need no invalidation at all: an expired
//   key is refused at once even with its entry warm.
// - Everything else (revoked_at, a re-roll's new overlap_until, the tenant's status) can change under a
//   cached entry. A found key is served from memory for `ttlMs` (at most MAX_KEY_CACHE_TTL_MS = 4 s)
//   counted from *before* the database read began, so the entry never reflects the database later than
//   its own age says. A change committed at T is seen by every look-up that starts after T, and no entry
//   read before T outlives T + 4 s. The last second of the 5 is for the request that was authenticated
//   just before its entry went stale and is still being handled.
// - An admin action on this edge instance invalidates the entries it may have changed before its response
//   goes out (key-cache-invalidation.ts), so on this instance (the whole single-machine
//   stack) a revocation is immediate; other instances take up to the TTL. A generation counter keeps a
//   look-up that was already in flight from putting the old record back afterwards.
// - "No such key" is cached too, for `negativeTtlMs`, in a separate, smaller map, so a client retrying a
//   dead key costs one query per interval, and a flood of made-up keys cannot evict the real ones. The
//   only key that could be hurt is one presented before it existed: a new key is 256 random bits.
// - Both maps are bounded, least recently used first out. Entries past their TTL stay (until evicted or
//   `knownKeyMs`) only to say "this digest belongs to a real key": a client address blocked for failed
//   authentication still gets such keys checked (limits/rate-limit.ts), so a block never locks out a key that
//   was in use.
//
// Per process on Node and Deno; per isolate on Workers (the app, with its cache, is built once per
// isolate), so each isolate warms its own and the bound is the same.
import type { Kysely } from 'kysely';
import { bytesToHex } from '../../shared/api-key.js';
import { setNewest } from '../../shared/bounded-map.js';
import type { Database } from '../../shared/db-schema.js';
import { SharedReads } from '../../shared/shared-reads.js';
import type { KeyLookup, KeyRecord } from './queries/api-keys.js';

export interface KeyCacheOptions {
  /** How long a found key is served without the database; 0 turns caching off. */
  ttlMs: number;
  /** How long an unknown digest is answered "unknown" without the database. */
  negativeTtlMs: number;
  maxEntries: number;
  maxNegativeEntries: number;
  /** How long a digest stays known as a real key after it was last read from the database. */
  knownKeyMs: number;
  /** Milliseconds; the app's clock. */
  now: () => number;
}

interface Entry {
  record: KeyRecord;
  /** When the database read that produced `record` began. */
  readAt: number;
  /** Invalidated: never served again, but still says the digest is a real key (`isKnown`). */
  stale: boolean;
}

/** An in-memory, bounded cache of key look-ups by digest; see the top of this file for the bounds. */
export class KeyCache {
  readonly #options: KeyCacheOptions;
  // Maps iterate in insertion order; re-inserting on use makes the first entry the least recently used.
  readonly #found = new Map<string, Entry>();
  readonly #unknown = new Map<string, number>();
  readonly #digestById = new Map<string, string>();
  #generation = 0;
  readonly #reads = new SharedReads<KeyRecord | undefined>();

  constructor(options: KeyCacheOptions) {
    this.#options = options;
  }

  /** `lookup` with this cache in front of it; the seam `createEdgeApp` hands to the auth middleware. */
  wrap(lookup: KeyLookup): KeyLookup {
    return async (db: Kysely<Database>, digest: Uint8Array) => {
      const id = bytesToHex(digest);
      const now = this.#options.now();
      const entry = this.#found.get(id);
      if (entry && !entry.stale && isFresh(entry.readAt, now, this.#options.ttlMs)) {
        touch(this.#found, id, entry);
        return entry.record;
      }
      const unknownSince = this.#unknown.get(id);
      if (unknownSince !== undefined && isFresh(unknownSince, now, this.#options.negativeTtlMs)) {
        return undefined;
      }
      // Requests with the same key that miss together share one read, unless something was invalidated
      // since it began.
      const generation = this.#generation;
      const { value, joined } = this.#reads.share(db, id, generation, () => lookup(db, digest));
      if (joined) return value;
      const record = await value;
      // Something was invalidated while we read: what we read may be what it invalidated.
      if (generation === this.#generation) this.#store(id, record, now);
      return record;
    };
  }

  /** Whether the digest belonged to a real key when last read (fresh or not): such keys pass a block. */
  isKnown(digest: Uint8Array): boolean {
    const entry = this.#found.get(bytesToHex(digest));
    return entry !== undefined && isFresh(entry.readAt, this.#options.now(), this.#options.knownKeyMs);
  }

  // Invalidation marks entries stale rather than deleting them: the next request reads the database, and
  // the key, if it was real, still counts as known (an admin's own write must not lock it out).

  /** Invalidates the entry of one key (by api_keys.id). */
  forgetKey(keyId: string): void {
    this.#generation++;
    const id = this.#digestById.get(keyId);
    const entry = id === undefined ? undefined : this.#found.get(id);
    if (entry) entry.stale = true;
  }

  /** Invalidates every entry of a tenant's keys. */
  forgetTenant(tenantId: string): void {
    this.#generation++;
    for (const entry of this.#found.values()) {
      if (entry.record.tenantId === tenantId) entry.stale = true;
    }
  }

  /** Invalidates everything, and drops the "unknown" answers. */
  clear(): void {
    this.#generation++;
    for (const entry of this.#found.values()) entry.stale = true;
    this.#unknown.clear();
  }

  /** Entries that would be served now, and remembered unknown digests; for tests and metrics. */
  get size(): { found: number; unknown: number } {
    const now = this.#options.now();
    let found = 0;
    for (const entry of this.#found.values()) {
      if (!entry.stale && isFresh(entry.readAt, now, this.#options.ttlMs)) found++;
    }
    let unknown = 0;
    for (const since of this.#unknown.values())
      if (isFresh(since, now, this.#options.negativeTtlMs)) unknown++;
    return { found, unknown };
  }

  #store(id: string, record: KeyRecord | undefined, readAt: number): void {
    if (record === undefined) {
      this.#delete(id);
      setNewest(this.#unknown, id, readAt, this.#options.maxNegativeEntries);
      return;
    }
    this.#unknown.delete(id);
    touch(this.#found, id, { record, readAt, stale: false });
    this.#digestById.set(record.id, id);
    while (this.#found.size > this.#options.maxEntries) {
      const oldest = this.#found.keys().next();
      if (oldest.done) break;
      this.#delete(oldest.value);
    }
  }

  #delete(id: string): void {
    const entry = this.#found.get(id);
    if (entry) {
      this.#found.delete(id);
      if (this.#digestById.get(entry.record.id) === id) this.#digestById.delete(entry.record.id);
    }
    this.#unknown.delete(id);
  }
}

// A clock that went backwards makes an entry stale rather than fresh for longer.
function isFresh(since: number, now: number, ttlMs: number): boolean {
  return now >= since && now - since < ttlMs;
}

function touch<V>(map: Map<string, V>, key: string, value: V): void {
  map.delete(key);
  map.set(key, value);
}

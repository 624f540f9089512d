// Rate limits held in memory by each edge instance (each isolate on Workers). With several instances each
// enforces its own share: N instances let through up to N times a limit in the worst case, when one
// client's traffic is spread over all of them. A shared store (a Durable Object, Redis) is later work;
// these keep a single machine honest and blunt a flood at any instance. Every map is bounded, least
// recently seen first out: forgetting an idle client only ever errs on the generous side.

import { setNewest } from '../../shared/bounded-map.js';

/** Waits are in milliseconds; 0 means "go ahead". */
export type WaitMs = number;

export interface TokenBucketOptions {
  /** Tokens added per second. */
  perSecond: number;
  /** Most tokens a bucket holds: how many requests may come at once after a quiet spell. */
  burst: number;
  maxTracked: number;
}

interface Bucket {
  tokens: number;
  at: number;
}

/** Token buckets by name (a session, a tenant); one token per request. */
export class TokenBuckets {
  readonly #options: TokenBucketOptions;
  readonly #buckets = new Map<string, Bucket>();

  constructor(options: TokenBucketOptions) {
    this.#options = options;
  }

  /** How long until `name` has `count` tokens (0: it has them now); takes nothing. */
  waitFor(name: string, now: number, count = 1): WaitMs {
    const tokens = this.#refilled(name, now).tokens;
    return tokens >= count ? 0 : Math.ceil(((count - tokens) * 1000) / this.#options.perSecond);
  }

  /** Takes `count` tokens from `name`; call only after `waitFor` said 0. */
  take(name: string, now: number, count = 1): void {
    const bucket = this.#refilled(name, now);
    bucket.tokens -= count;
    setNewest(this.#buckets, name, bucket, this.#options.maxTracked);
  }

  #refilled(name: string, now: number): Bucket {
    const { perSecond, burst } = this.#options;
    const bucket = this.#buckets.get(name);
    if (!bucket) return { tokens: burst, at: now };
    // A clock that went backwards adds nothing rather than taking tokens away.
    const elapsed = Math.max(0, now - bucket.at);
    return {
      tokens: Math.min(burst, bucket.tokens + (elapsed * perSecond) / 1000),
      at: Math.max(now, bucket.at),
    };
  }
}

/** Sends per session and per tenant: a send needs a token from both, and takes none unless it gets both. */
export class SendLimits {
  readonly #sessions: TokenBuckets;
  readonly #tenants: TokenBuckets;

  constructor(options: {
    perSession: Omit<TokenBucketOptions, 'maxTracked'>;
    perTenant: Omit<TokenBucketOptions, 'maxTracked'>;
    maxTracked: number;
  }) {
    this.#sessions = new TokenBuckets({ ...options.perSession, maxTracked: options.maxTracked });
    this.#tenants = new TokenBuckets({ ...options.perTenant, maxTracked: options.maxTracked });
  }

  /** Takes a send for the session and its tenant, or says how long to wait and whose limit it is. */
  take(tenantId: string, sessionId: string, now: number): { waitMs: WaitMs; limit?: 'session' | 'tenant' } {
    const session = this.#sessions.waitFor(sessionId, now);
    const tenant = this.#tenants.waitFor(tenantId, now);
    if (session > 0 || tenant > 0) {
      return session >= tenant ? { waitMs: session, limit: 'session' } : { waitMs: tenant, limit: 'tenant' };
    }
    this.#sessions.take(sessionId, now);
    this.#tenants.take(tenantId, now);
    return { waitMs: 0 };
  }
}

export interface FailedAuthOptions {
  /** Refused keys allowed from one address within the window; the next one starts a block. */
  limit: number;
  windowMs: number;
  blockMs: number;
  maxTracked: number;
}

interface AddressRecord {
  /** When the last (up to `limit`) refusals happened, oldest first. */
  failures: number[];
  blockedUntil: number;
}

/**
 * Counts refused keys per client address over a sliding window (exact: the last `limit` refusal times
 * per address) and blocks an address that goes over for a fixed time. What a block means is the auth
 * middleware's business (auth/authenticate.ts): refusals are answered 429, and keys not known to be real
 * are refused without a database look-up.
 */
export class FailedAuthThrottle {
  readonly #options: FailedAuthOptions;
  readonly #addresses = new Map<string, AddressRecord>();
  /** When the last block to end ends: before then, some address may be blocked. */
  #blocksEnd = 0;

  constructor(options: FailedAuthOptions) {
    this.#options = options;
  }

  /** Whether any address may be blocked now; when none is, a request's address need not be worked out. */
  anyBlocked(now: number): boolean {
    return this.#blocksEnd > now;
  }

  /** How much longer `address` is blocked (0: it is not). */
  blockedFor(address: string, now: number): WaitMs {
    const record = this.#addresses.get(address);
    return record && record.blockedUntil > now ? record.blockedUntil - now : 0;
  }

  /** Counts a refused key from `address`; returns the block it started (0: none, answer as usual). */
  fail(address: string, now: number): WaitMs {
    const { limit, windowMs, blockMs, maxTracked } = this.#options;
    const record = this.#addresses.get(address) ?? { failures: [], blockedUntil: 0 };
    if (record.blockedUntil > now) return record.blockedUntil - now;
    const recent = record.failures.filter((at) => at > now - windowMs && at <= now);
    recent.push(now);
    if (recent.length > limit) {
      // The block is the penalty; the window starts afresh after it.
      setNewest(this.#addresses, address, { failures: [], blockedUntil: now + blockMs }, maxTracked);
      this.#blocksEnd = Math.max(this.#blocksEnd, now + blockMs);
      return blockMs;
    }
    setNewest(this.#addresses, address, { failures: recent, blockedUntil: 0 }, maxTracked);
    return 0;
  }
}

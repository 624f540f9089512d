import { MAX_CHECK_NUMBERS } from '../../shared/chats.js';
// What authentication keeps in memory, built once per app from its configuration: the key cache, the
// last-used buffer, and the rate limits. On Workers the app is built once per isolate, so all of it is
// per isolate; on Node and Deno, per process.

import type { EdgeConfig } from '../config.js';
import { FailedAuthThrottle, SendLimits, TokenBuckets } from '../limits/rate-limit.js';
import type { AuthThrottle } from './authenticate.js';
import { CheckedKeys } from './checked-keys.js';
import { clientAddressOf, type PeerAddress } from './client-address.js';
import { KeyCache } from './key-cache.js';
import { LastUsedBuffer } from './last-used.js';
import { findKeyByDigest, type KeyLookup } from './queries/api-keys.js';

export interface AuthServices {
  keyCache: KeyCache;
  /** The database look-up with the cache in front. */
  lookup: KeyLookup;
  /** Keys authenticated lately, with their shape and digest (checked-keys.ts). */
  checkedKeys: CheckedKeys;
  lastUsed: LastUsedBuffer;
  throttle: AuthThrottle;
  sendLimits: SendLimits;
  /**
   * Numbers checked per session (POST /api/contacts/check), one token per number: 50 at once, then 10 a
   * minute. Looking up many numbers is what WhatsApp bans accounts for (Evolution API issue 2228).
   */
  numberChecks: TokenBuckets;
}

export interface AuthServicesDeps {
  now: () => Date;
  /** The look-up behind the cache; default the database (queries/api-keys.ts). */
  keyLookup?: KeyLookup | undefined;
  /** A cache to use instead of a new one (tests look into it). */
  keyCache?: KeyCache | undefined;
  /** The connection's peer address, from the entry (the app itself cannot see sockets). */
  peerAddress?: PeerAddress | undefined;
}

export function createAuthServices(config: EdgeConfig, deps: AuthServicesDeps): AuthServices {
  const nowMs = () => deps.now().getTime();
  const keyCache = deps.keyCache ?? new KeyCache({ ...config.keyCache, now: nowMs });
  const { failedAuth, sendPerSession, sendPerTenant, maxTracked } = config.rateLimits;
  return {
    keyCache,
    lookup: keyCache.wrap(deps.keyLookup ?? findKeyByDigest),
    // With the key cache off, no key is kept in memory either.
    checkedKeys: new CheckedKeys(config.keyCache.ttlMs === 0 ? 0 : config.keyCache.maxEntries),
    lastUsed: new LastUsedBuffer({
      intervalMs: config.lastUsed.flushSeconds * 1000,
      maxPending: config.lastUsed.maxPending,
      now: nowMs,
    }),
    throttle: {
      failures: new FailedAuthThrottle({
        limit: failedAuth.limit,
        windowMs: failedAuth.windowSeconds * 1000,
        blockMs: failedAuth.blockSeconds * 1000,
        maxTracked,
      }),
      clientOf: clientAddressOf(config.clientAddress, deps.peerAddress),
      isKnownKey: (digest) => keyCache.isKnown(digest),
    },
    sendLimits: new SendLimits({ perSession: sendPerSession, perTenant: sendPerTenant, maxTracked }),
    numberChecks: new TokenBuckets({ perSecond: 10 / 60, burst: MAX_CHECK_NUMBERS, maxTracked }),
  };
}

import type { MiddlewareHandler } from 'hono';
import {
  API_KEY_HEADER,
  type ApiKeyScope,
  classifyPresentedKey,
  digestApiKey,
  MAX_PRESENTED_KEY_LENGTH,
  timingSafeEqual,
} from '../../shared/api-key.js';
import { ApiError } from '../../shared/errors.js';
import { dbOf, type EdgeEnv, type Principal, principalOf } from '../context.js';
import type { FailedAuthThrottle } from '../limits/rate-limit.js';
import type { EdgeLogger } from '../logger.js';
import type { CheckedKeys } from './checked-keys.js';
import type { PeerAddress } from './client-address.js';
import type { KeyLookup, KeyRecord } from './queries/api-keys.js';

export interface AuthOptions {
  lookup: KeyLookup;
  now: () => Date;
  logger: EdgeLogger;
  /** The failed-authentication limit per client address; unset, there is none. */
  throttle?: AuthThrottle;
  /** Also takes the key from `Authorization: Bearer <key>` (for scrapers), when `x-api-key` is absent. */
  bearer?: boolean;
  /** Keys found lately, so their shape check and digest are not worked out again (checked-keys.ts). */
  checked?: CheckedKeys;
}

export interface AuthThrottle {
  failures: FailedAuthThrottle;
  /** The request's client as the throttle names it; undefined (no address to be had) is not throttled. */
  clientOf: PeerAddress;
  /** Whether a digest belongs to a key known to be real (key-cache.ts `isKnown`). */
  isKnownKey: (digest: Uint8Array) => boolean;
}

type Refusal =
  | 'malformed'
  | 'bad_checksum'
  | 'unknown'
  | 'scope_mismatch'
  | 'revoked'
  | 'expired'
  | 'rotated_out'
  | 'tenant_suspended'
  | 'orphaned'
  | 'client_blocked';

/**
 * Authenticates `x-api-key`: 401 MISSING_API_KEY without one; 403 INVALID_API_KEY for anything that is
 * not a live key of an active tenant (the client is not told which, the log is). Sets `principal`.
 *
 * With a throttle, an address whose keys are refused too often is blocked for a while: its refusals are
 * 429 RATE_LIMITED with `Retry-After`, and a key not known to be real is refused without a database
 * look-up. A key known to be real (seen by this edge in the last minutes) still works from a blocked
 * address, so one bad client behind a shared address (NAT, a company proxy) does not lock out the
 * others' keys. A missing key is never counted.
 */
export function authenticate(options: AuthOptions): MiddlewareHandler<EdgeEnv> {
  const { throttle, logger, checked } = options;
  return async (c, next) => {
    const presented =
      c.req.header(API_KEY_HEADER) ??
      (options.bearer ? /^Bearer (.+)$/.exec(c.req.header('authorization') ?? '')?.[1] : undefined);
    if (presented === undefined || presented === '') throw new ApiError('MISSING_API_KEY');
    const now = options.now();
    // The client's address is worked out only when it matters: a block exists, or the key is refused.
    const blocked = throttle?.failures.anyBlocked(now.getTime()) ? throttle.clientOf(c) : undefined;
    const blockedMs =
      throttle && blocked !== undefined ? throttle.failures.blockedFor(blocked, now.getTime()) : 0;
    const refuse = (reason: Refusal, keyId?: string): never => {
      checked?.forget(presented);
      const client = blocked ?? throttle?.clientOf(c);
      let blockMs = blockedMs;
      if (blockMs === 0 && throttle && client !== undefined) {
        blockMs = throttle.failures.fail(client, now.getTime());
        if (blockMs > 0) {
          logger.warn({ client, blockMs }, 'client blocked after repeated failed authentication');
        }
      }
      logger.info({ reason, keyId, throttled: blockMs > 0 || undefined }, 'api key refused');
      if (blockMs > 0) throw new ApiError('RATE_LIMITED', { retryAfterSeconds: blockMs / 1000 });
      throw new ApiError('INVALID_API_KEY');
    };
    const remembered = checked?.get(presented);
    let known = remembered;
    if (!known) {
      if (presented.length > MAX_PRESENTED_KEY_LENGTH) return refuse('malformed');
      // Typos and junk fail here, without a database look-up.
      const shape = classifyPresentedKey(presented);
      if (!shape.ok) return refuse(shape.error);
      known = { shape, digest: digestApiKey(presented) };
    }
    const { shape, digest } = known;
    // What a block saves: the database look-up for keys made up by the blocked client.
    if (blockedMs > 0 && !throttle?.isKnownKey(digest)) return refuse('client_blocked');
    const record = await options.lookup(dbOf(c), digest);
    // The look-up matched on the digest already; comparing again in constant time keeps that true for
    // any lookup (a cache, later) that finds candidates some other way.
    if (!record || !timingSafeEqual(record.digest, digest)) return refuse('unknown');
    // A prefixed key must be of its prefix's scope; a custom key (API_KEY, OPERATOR_KEY) is whatever was
    // stored for it, except a session key, which is always generated.
    const scopeMismatch =
      shape.kind === 'prefixed' ? record.scope !== shape.scope : record.scope === 'session';
    if (scopeMismatch) return refuse('scope_mismatch', record.id);
    const problem = validityProblem(record, now);
    if (problem) return refuse(problem, record.id);
    const principal = principalFrom(record);
    if (!principal) return refuse('orphaned', record.id);
    if (!remembered) checked?.remember(presented, known);
    c.set('principal', principal);
    await next();
  };
}

function validityProblem(record: KeyRecord, now: Date): Refusal | undefined {
  if (record.revokedAt !== null) return 'revoked';
  if (record.expiresAt !== null && record.expiresAt <= now) return 'expired';
  // A rotated key keeps working only until its overlap ends.
  if (record.overlapUntil !== null && record.overlapUntil <= now) return 'rotated_out';
  if (record.scope !== 'operator' && record.tenantStatus !== 'active') return 'tenant_suspended';
  return undefined;
}

function principalFrom(record: KeyRecord): Principal | undefined {
  const base = { keyId: record.id, keyPrefix: record.prefix };
  switch (record.scope) {
    case 'operator':
      return { ...base, scope: 'operator', tenantId: null, sessionId: null, sessionName: null };
    case 'admin':
      return record.tenantId
        ? { ...base, scope: 'admin', tenantId: record.tenantId, sessionId: null, sessionName: null }
        : undefined;
    case 'session':
      return record.tenantId && record.sessionId && record.sessionName
        ? {
            ...base,
            scope: 'session',
            tenantId: record.tenantId,
            sessionId: record.sessionId,
            sessionName: record.sessionName,
          }
        : undefined;
  }
}

/** Route middleware: 403 WRONG_SCOPE unless the caller's key has `scope`; runs before body validation. */
export function requireScope(scope: ApiKeyScope): MiddlewareHandler<EdgeEnv> {
  return async (c, next) => {
    principalOf(c, scope);
    await next();
  };
}

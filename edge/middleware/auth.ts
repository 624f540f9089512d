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
import type { EdgeLogger } from '../logger.js';
import type { KeyLookup, KeyRecord } from '../queries/api-keys.js';

export interface AuthOptions {
  lookup: KeyLookup;
  now: () => Date;
  logger: EdgeLogger;
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
  | 'orphaned';

/**
 * Authenticates `x-api-key`: 401 MISSING_API_KEY without one; 403 INVALID_API_KEY for anything that is
 * not a live key of an active tenant (the client is not told which, the log is). Sets `principal`.
 */
export function authenticate(options: AuthOptions): MiddlewareHandler<EdgeEnv> {
  const refuse = (reason: Refusal, keyId?: string): never => {
    options.logger.info({ reason, keyId }, 'api key refused');
    throw new ApiError('INVALID_API_KEY');
  };
  return async (c, next) => {
    const presented = c.req.header(API_KEY_HEADER);
    if (presented === undefined || presented === '') throw new ApiError('MISSING_API_KEY');
    if (presented.length > MAX_PRESENTED_KEY_LENGTH) return refuse('malformed');
    // Typos and junk fail here, without a database look-up.
    const shape = classifyPresentedKey(presented);
    if (!shape.ok) return refuse(shape.error);

    const digest = await digestApiKey(presented);
    const record = await options.lookup(dbOf(c), digest);
    // The look-up matched on the digest already; comparing again in constant time keeps that true for
    // any lookup (a cache, later) that finds candidates some other way.
    if (!record || !timingSafeEqual(record.digest, digest)) return refuse('unknown');
    if (record.scope !== shape.scope) return refuse('scope_mismatch', record.id);
    const problem = validityProblem(record, options.now());
    if (problem) return refuse(problem, record.id);
    const principal = principalFrom(record);
    if (!principal) return refuse('orphaned', record.id);
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

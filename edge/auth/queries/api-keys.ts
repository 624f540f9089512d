import { type Kysely, sql } from 'kysely';
import type { Database, KeyScope, TenantStatus } from '../../../shared/db-schema.js';

/** An API key with what authentication needs to decide on it; checked against the clock by the caller. */
export interface KeyRecord {
  id: string;
  digest: Uint8Array;
  prefix: string;
  scope: KeyScope;
  tenantId: string | null;
  tenantStatus: TenantStatus | null;
  /** sessions.id, for session keys. */
  sessionId: string | null;
  /** sessions.name (the client's `sessionId`), for session keys. */
  sessionName: string | null;
  expiresAt: Date | null;
  revokedAt: Date | null;
  overlapUntil: Date | null;
}

/**
 * How the auth middleware finds a key by its digest. The seam where a cache goes: whatever wraps this
 * must keep returning the validity fields, because they are checked against the clock on every request.
 */
export type KeyLookup = (db: Kysely<Database>, digest: Uint8Array) => Promise<KeyRecord | undefined>;

/** The key with this SHA-256 digest, its tenant's status and, for a session key, its session. */
export const findKeyByDigest: KeyLookup = async (db, digest) => {
  const row = await db
    .selectFrom('api_keys')
    .leftJoin('tenants', 'tenants.id', 'api_keys.tenant_id')
    // The tenant condition repeats the composite foreign key: a session key names a session of its tenant.
    .leftJoin('sessions', (join) =>
      join
        .onRef('sessions.id', '=', 'api_keys.session_id')
        .onRef('sessions.tenant_id', '=', 'api_keys.tenant_id'),
    )
    .select([
      'api_keys.id',
      'api_keys.digest',
      'api_keys.prefix',
      'api_keys.scope',
      'api_keys.tenant_id',
      'api_keys.expires_at',
      'api_keys.revoked_at',
      'api_keys.overlap_until',
      'tenants.status as tenant_status',
      'sessions.id as session_id',
      'sessions.name as session_name',
      // Volatile, so Hyperdrive never answers this from its query cache (60 s by default): the key
      // cache's 5-second revocation bound (key-cache.ts) assumes every look-up reads the database.
      sql<Date>`clock_timestamp()`.as('read_at'),
    ])
    .where('api_keys.digest', '=', digest)
    .executeTakeFirst();
  if (!row) return undefined;
  return {
    id: row.id,
    digest: row.digest,
    prefix: row.prefix,
    scope: row.scope,
    tenantId: row.tenant_id,
    tenantStatus: row.tenant_status,
    sessionId: row.session_id,
    sessionName: row.session_name,
    expiresAt: row.expires_at,
    revokedAt: row.revoked_at,
    overlapUntil: row.overlap_until,
  };
};

export interface NewKeyInput {
  digest: Uint8Array;
  prefix: string;
  scope: KeyScope;
  tenantId: string | null;
  sessionId?: string | null;
  label?: string | null;
  expiresAt?: Date | null;
}

/** Stores a key's digest and display prefix (never the key); returns its id. */
export async function insertApiKey(db: Kysely<Database>, key: NewKeyInput): Promise<string> {
  const row = await db
    .insertInto('api_keys')
    .values({
      digest: key.digest,
      prefix: key.prefix,
      scope: key.scope,
      tenant_id: key.tenantId,
      session_id: key.sessionId ?? null,
      label: key.label ?? null,
      expires_at: key.expiresAt ?? null,
    })
    .returning('id')
    .executeTakeFirstOrThrow();
  return row.id;
}

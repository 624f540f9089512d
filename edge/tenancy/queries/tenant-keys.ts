// A tenant's keys as its admin manages them: listing, finding, revoking, re-rolling. Every query names
// the tenant, so a key of another tenant is simply not there. (Authentication's look-up by digest is in
// api-keys.ts.)
import { type Kysely, type SqlBool, sql } from 'kysely';
import type { Database } from '../../../shared/db-schema.js';
import { type Page, pageOf } from '../pagination.js';

/** A tenant's key with what listings show; never the digest. */
export interface TenantKeyRow {
  id: string;
  prefix: string;
  scope: 'admin' | 'session';
  label: string | null;
  /** sessions.id, for session keys. */
  sessionUuid: string | null;
  /** sessions.name (the client's `sessionId`), for session keys. */
  sessionName: string | null;
  createdAt: Date;
  lastUsedAt: Date | null;
  expiresAt: Date | null;
  revokedAt: Date | null;
  overlapUntil: Date | null;
  replacedBy: string | null;
}

function selectTenantKeys(db: Kysely<Database>, tenantId: string) {
  return (
    db
      .selectFrom('api_keys')
      .leftJoin('sessions', 'sessions.id', 'api_keys.session_id')
      .select([
        'api_keys.id',
        'api_keys.prefix',
        'api_keys.scope',
        'api_keys.label',
        'api_keys.session_id',
        'sessions.name as session_name',
        'api_keys.created_at',
        'api_keys.last_used_at',
        'api_keys.expires_at',
        'api_keys.revoked_at',
        'api_keys.overlap_until',
        'api_keys.replaced_by',
      ])
      .where('api_keys.tenant_id', '=', tenantId)
      // Belt and braces: operator keys have no tenant, but they are never a tenant's to see.
      .where('api_keys.scope', 'in', ['admin', 'session'])
  );
}

type SelectedKey = Awaited<ReturnType<ReturnType<typeof selectTenantKeys>['executeTakeFirstOrThrow']>>;

function toKeyRow(row: SelectedKey): TenantKeyRow {
  return {
    id: row.id,
    prefix: row.prefix,
    scope: row.scope === 'session' ? 'session' : 'admin',
    label: row.label,
    sessionUuid: row.session_id,
    sessionName: row.session_name,
    createdAt: row.created_at,
    lastUsedAt: row.last_used_at,
    expiresAt: row.expires_at,
    revokedAt: row.revoked_at,
    overlapUntil: row.overlap_until,
    replacedBy: row.replaced_by,
  };
}

/** The tenant's keys, oldest first; the cursor is the id of the previous page's last key. */
export async function listTenantKeys(
  db: Kysely<Database>,
  tenantId: string,
  page: { limit: number; cursor?: string | undefined },
): Promise<Page<TenantKeyRow>> {
  let query = selectTenantKeys(db, tenantId)
    .orderBy('api_keys.created_at')
    .orderBy('api_keys.id')
    .limit(page.limit + 1);
  if (page.cursor !== undefined) {
    // The cursor's row is looked up in this tenant only: another tenant's key id gives an empty page,
    // exactly as an unknown id does.
    query = query.where(
      sql<SqlBool>`(api_keys.created_at, api_keys.id) > (select c.created_at, c.id from api_keys c where c.id = ${page.cursor} and c.tenant_id = ${tenantId})`,
    );
  }
  const rows = await query.execute();
  return pageOf(rows.map(toKeyRow), page.limit, (k) => k.id);
}

/** The tenant's key with this id; `forUpdate` locks it until the transaction ends. */
export async function findTenantKey(
  db: Kysely<Database>,
  tenantId: string,
  keyId: string,
  options: { forUpdate?: boolean } = {},
): Promise<TenantKeyRow | undefined> {
  let query = selectTenantKeys(db, tenantId).where('api_keys.id', '=', keyId);
  if (options.forUpdate) query = query.forUpdate('api_keys');
  const row = await query.executeTakeFirst();
  return row ? toKeyRow(row) : undefined;
}

/** How many of the tenant's admin keys other than `exceptKeyId` would be accepted at `now`. */
export async function countOtherLiveAdminKeys(
  db: Kysely<Database>,
  tenantId: string,
  exceptKeyId: string,
  now: Date,
): Promise<number> {
  const row = await db
    .selectFrom('api_keys')
    .select((eb) => eb.fn.countAll<string>().as('live'))
    .where('tenant_id', '=', tenantId)
    .where('scope', '=', 'admin')
    .where('id', '!=', exceptKeyId)
    .where('revoked_at', 'is', null)
    .where((eb) => eb.or([eb('expires_at', 'is', null), eb('expires_at', '>', now)]))
    .where((eb) => eb.or([eb('overlap_until', 'is', null), eb('overlap_until', '>', now)]))
    .executeTakeFirstOrThrow();
  return Number(row.live);
}

/** Marks the key revoked at `at`. */
export async function revokeKey(db: Kysely<Database>, keyId: string, at: Date): Promise<void> {
  await db.updateTable('api_keys').set({ revoked_at: at }).where('id', '=', keyId).execute();
}

/** Records that `keyId` was re-rolled into `replacedBy` and is accepted until `overlapUntil`. */
export async function markKeyReplaced(
  db: Kysely<Database>,
  keyId: string,
  replacement: { replacedBy: string; overlapUntil: Date },
): Promise<void> {
  await db
    .updateTable('api_keys')
    .set({ replaced_by: replacement.replacedBy, overlap_until: replacement.overlapUntil })
    .where('id', '=', keyId)
    .execute();
}

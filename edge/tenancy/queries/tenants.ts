import { type Kysely, type SqlBool, sql } from 'kysely';
import type { Database, TenantStatus } from '../../../shared/db-schema.js';
import { type Page, pageOf } from '../pagination.js';

export interface TenantRow {
  id: string;
  name: string;
  status: TenantStatus;
  createdAt: Date;
}

const toTenant = (row: { id: string; name: string; status: TenantStatus; created_at: Date }): TenantRow => ({
  id: row.id,
  name: row.name,
  status: row.status,
  createdAt: row.created_at,
});

/** Inserts an active tenant. */
export async function insertTenant(db: Kysely<Database>, name: string): Promise<TenantRow> {
  const row = await db
    .insertInto('tenants')
    .values({ name })
    .returning(['id', 'name', 'status', 'created_at'])
    .executeTakeFirstOrThrow();
  return toTenant(row);
}

/**
 * Tenants oldest first. The cursor is the id of the last tenant of the previous page; the page goes on
 * after that tenant's (created_at, id), which stays right however many tenants are added meanwhile.
 */
export async function listTenants(
  db: Kysely<Database>,
  page: { limit: number; cursor?: string | undefined },
): Promise<Page<TenantRow>> {
  let query = db
    .selectFrom('tenants')
    .select(['id', 'name', 'status', 'created_at'])
    .orderBy('created_at')
    .orderBy('id')
    .limit(page.limit + 1);
  if (page.cursor !== undefined) {
    query = query.where(
      sql<SqlBool>`(tenants.created_at, tenants.id) > (select c.created_at, c.id from tenants c where c.id = ${page.cursor})`,
    );
  }
  const rows = await query.execute();
  return pageOf(rows.map(toTenant), page.limit, (t) => t.id);
}

/**
 * The tenant, its row locked until the transaction ends: every change to a tenant or to its keys takes
 * this lock first, so checks like "is this its last admin key" cannot race. NO KEY UPDATE, so inserts
 * that merely reference the tenant (sessions, keys) are not held up.
 */
export async function lockTenant(db: Kysely<Database>, tenantId: string): Promise<TenantRow | undefined> {
  const row = await db
    .selectFrom('tenants')
    .select(['id', 'name', 'status', 'created_at'])
    .where('id', '=', tenantId)
    .forNoKeyUpdate()
    .executeTakeFirst();
  return row ? toTenant(row) : undefined;
}

/** Sets the tenant's status; returns the updated tenant. */
export async function setTenantStatus(
  db: Kysely<Database>,
  tenantId: string,
  status: TenantStatus,
): Promise<TenantRow> {
  const row = await db
    .updateTable('tenants')
    .set({ status })
    .where('id', '=', tenantId)
    .returning(['id', 'name', 'status', 'created_at'])
    .executeTakeFirstOrThrow();
  return toTenant(row);
}

import type { Kysely } from 'kysely';
import type { Database, JsonValue } from '../../../shared/db-schema.js';
import { type Page, pageOf } from '../pagination.js';

export interface AuditInput {
  tenantId: string | null;
  /** Display prefix of the acting key, never the key. */
  actor: string | null;
  action: string;
  target: string | null;
  detail?: { [key: string]: JsonValue };
}

/** Appends to the audit log. */
export async function recordAudit(db: Kysely<Database>, entry: AuditInput): Promise<void> {
  await db
    .insertInto('audit_log')
    .values({
      tenant_id: entry.tenantId,
      actor: entry.actor,
      action: entry.action,
      target: entry.target,
      detail: entry.detail ?? {},
    })
    .execute();
}

export interface AuditRow {
  id: string;
  at: Date;
  actor: string | null;
  action: string;
  target: string | null;
  detail: JsonValue;
}

/**
 * The tenant's audit entries by their number in the tenant (`seq`, shown as `id`), which grows with every
 * entry: `desc` newest first, `asc` in the order things happened. The cursor is the number of the previous
 * page's last entry.
 */
export async function listAuditEntries(
  db: Kysely<Database>,
  tenantId: string,
  page: { limit: number; cursor?: string | undefined; order: 'asc' | 'desc' },
): Promise<Page<AuditRow>> {
  let query = db
    .selectFrom('audit_log')
    .select(['seq as id', 'at', 'actor', 'action', 'target', 'detail'])
    .where('tenant_id', '=', tenantId)
    .orderBy('seq', page.order)
    .limit(page.limit + 1);
  if (page.cursor !== undefined) query = query.where('seq', page.order === 'asc' ? '>' : '<', page.cursor);
  const rows = await query.execute();
  return pageOf(rows, page.limit, (e) => e.id);
}

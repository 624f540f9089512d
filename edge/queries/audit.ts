import type { Kysely } from 'kysely';
import type { Database, JsonValue } from '../../shared/db-schema.js';

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

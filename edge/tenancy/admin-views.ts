// Rows as the tenancy routes show them (shared/admin-schemas.ts): ISO timestamps, names clients know,
// and nothing secret.

import type {
  ApiKeyInfo,
  AuditEntryInfo,
  HostInfo,
  KeyStatus,
  SessionInfo,
  Tenant,
} from '../../shared/admin-schemas.js';
import type { JsonValue } from '../../shared/db-schema.js';
import { PacingSchema } from '../../shared/outbox.js';
import type { HostLoad } from '../hosts/queries/hosts.js';
import type { AuditRow } from './queries/audit.js';
import type { TenantSessionRow } from './queries/sessions.js';
import type { TenantKeyRow } from './queries/tenant-keys.js';
import type { TenantRow } from './queries/tenants.js';

const iso = (date: Date | null): string | null => (date === null ? null : date.toISOString());

/** Where the key stands at `now`, by the same rules authentication applies. */
export function keyStatus(
  key: Pick<TenantKeyRow, 'revokedAt' | 'expiresAt' | 'overlapUntil'>,
  now: Date,
): KeyStatus {
  if (key.revokedAt !== null) return 'revoked';
  if (key.expiresAt !== null && key.expiresAt <= now) return 'expired';
  if (key.overlapUntil !== null) return key.overlapUntil <= now ? 'rotated-out' : 'rotating';
  return 'active';
}

export function keyView(key: TenantKeyRow, now: Date): ApiKeyInfo {
  return {
    id: key.id,
    prefix: key.prefix,
    scope: key.scope,
    label: key.label,
    sessionId: key.sessionName,
    status: keyStatus(key, now),
    createdAt: key.createdAt.toISOString(),
    lastUsedAt: iso(key.lastUsedAt),
    expiresAt: iso(key.expiresAt),
    revokedAt: iso(key.revokedAt),
    overlapUntil: iso(key.overlapUntil),
    replacedBy: key.replacedBy,
  };
}

export function tenantView(tenant: TenantRow): Tenant {
  return {
    id: tenant.id,
    name: tenant.name,
    status: tenant.status,
    createdAt: tenant.createdAt.toISOString(),
  };
}

export function sessionView(session: TenantSessionRow): SessionInfo {
  // Same shape as the seed's `user`: the push name is left out while WhatsApp has not sent it.
  const user =
    session.accountJid === null
      ? null
      : session.accountName
        ? { id: session.accountJid, name: session.accountName }
        : { id: session.accountJid };
  return {
    id: session.id,
    sessionId: session.name,
    description: session.description,
    state: session.state,
    user,
    pacing: PacingSchema.safeParse(session.pacing).data ?? null,
    outbox: {
      queued: session.queued,
      nextSendAt: session.queued > 0 && session.nextSendAt ? session.nextSendAt.toISOString() : null,
    },
    createdAt: session.createdAt.toISOString(),
    updatedAt: session.updatedAt.toISOString(),
  };
}

export function auditView(entry: AuditRow): AuditEntryInfo {
  return {
    id: entry.id,
    at: entry.at.toISOString(),
    actor: entry.actor,
    action: entry.action,
    target: entry.target,
    detail: isRecord(entry.detail) ? entry.detail : { value: entry.detail },
  };
}

function isRecord(value: JsonValue): value is { [key: string]: JsonValue } {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export function hostView(host: HostLoad): HostInfo {
  return {
    id: host.id,
    url: host.internalUrl,
    live: host.live,
    draining: host.draining,
    sessions: host.sessions,
    maxSessions: host.maxSessions,
    heartbeatAt: host.heartbeatAt.toISOString(),
    startedAt: host.startedAt.toISOString(),
    whatsapp: { status: host.whatsapp, error: host.whatsappError, checkedAt: iso(host.whatsappCheckedAt) },
  };
}

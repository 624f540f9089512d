// Issuing, revoking and re-rolling a tenant's keys. Each change is one transaction with its audit entry,
// under the tenant's row lock (see lockTenant), so two admins acting at once cannot leave the tenant in
// a state neither asked for (two successors for one key, no admin key at all).
import type { Kysely } from 'kysely';
import { generateApiKey } from '../../shared/api-key.js';
import type { Database } from '../../shared/db-schema.js';
import { ApiError } from '../../shared/errors.js';
import { insertApiKey } from '../auth/queries/api-keys.js';
import { keyStatus } from './admin-views.js';
import { recordAudit } from './queries/audit.js';
import { findTenantSession } from './queries/sessions.js';
import {
  countOtherLiveAdminKeys,
  findTenantKey,
  markKeyReplaced,
  revokeKey,
  type TenantKeyRow,
} from './queries/tenant-keys.js';
import { lockTenant } from './queries/tenants.js';

/** Who acts: the tenant and the display prefix of the key used. */
export interface KeyActor {
  tenantId: string;
  keyPrefix: string;
}

export interface IssuedKey {
  /** The plaintext: returned once, stored nowhere. */
  apiKey: string;
  key: TenantKeyRow;
}

type Db = Kysely<Database>;

async function lockOwnTenant(trx: Db, tenantId: string): Promise<void> {
  // The caller's key was accepted moments ago, so its tenant exists; if it was deleted since, the key
  // went with it (ON DELETE CASCADE).
  if (!(await lockTenant(trx, tenantId))) throw new ApiError('INVALID_API_KEY');
}

async function reread(trx: Db, tenantId: string, keyId: string): Promise<TenantKeyRow> {
  const key = await findTenantKey(trx, tenantId, keyId);
  if (!key) throw new Error(`key ${keyId} vanished inside its own transaction`);
  return key;
}

/**
 * Issues a key of the tenant. A session key names one of the tenant's sessions by its `sessionId`; any
 * other name, another tenant's included, is 404 SESSION_NOT_FOUND.
 */
export async function issueTenantKey(
  db: Db,
  actor: KeyActor,
  input: {
    scope: 'admin' | 'session';
    sessionName?: string | undefined;
    label: string;
    expiresAt?: Date | undefined;
  },
): Promise<IssuedKey> {
  return db.transaction().execute(async (trx) => {
    await lockOwnTenant(trx, actor.tenantId);
    let sessionUuid: string | null = null;
    if (input.scope === 'session') {
      const session =
        input.sessionName === undefined
          ? undefined
          : await findTenantSession(trx, actor.tenantId, input.sessionName);
      if (!session) throw new ApiError('SESSION_NOT_FOUND');
      sessionUuid = session.id;
    }
    const generated = await generateApiKey(input.scope);
    const id = await insertApiKey(trx, {
      digest: generated.digest,
      prefix: generated.displayPrefix,
      scope: input.scope,
      tenantId: actor.tenantId,
      sessionId: sessionUuid,
      label: input.label,
      expiresAt: input.expiresAt ?? null,
    });
    await recordAudit(trx, {
      tenantId: actor.tenantId,
      actor: actor.keyPrefix,
      action: 'api_key.create',
      target: id,
      detail: {
        prefix: generated.displayPrefix,
        scope: input.scope,
        label: input.label,
        sessionId: input.sessionName ?? null,
        expiresAt: input.expiresAt?.toISOString() ?? null,
      },
    });
    return { apiKey: generated.key, key: await reread(trx, actor.tenantId, id) };
  });
}

/**
 * Revokes the tenant's key at `now`: refused from then on. Revoking a revoked key changes nothing (and
 * writes no audit entry). The tenant's last live admin key cannot be revoked: nobody could issue keys or
 * create sessions for the tenant any more.
 */
export async function revokeTenantKey(
  db: Db,
  actor: KeyActor,
  keyId: string,
  now: Date,
): Promise<TenantKeyRow> {
  return db.transaction().execute(async (trx) => {
    await lockOwnTenant(trx, actor.tenantId);
    const key = await findTenantKey(trx, actor.tenantId, keyId, { forUpdate: true });
    if (!key) throw new ApiError('KEY_NOT_FOUND');
    if (key.revokedAt !== null) return key;
    const status = keyStatus(key, now);
    const live = status === 'active' || status === 'rotating';
    if (
      key.scope === 'admin' &&
      live &&
      (await countOtherLiveAdminKeys(trx, actor.tenantId, key.id, now)) === 0
    ) {
      throw new ApiError('LAST_ADMIN_KEY');
    }
    await revokeKey(trx, key.id, now);
    await recordAudit(trx, {
      tenantId: actor.tenantId,
      actor: actor.keyPrefix,
      action: 'api_key.revoke',
      target: key.id,
      detail: { prefix: key.prefix, scope: key.scope, sessionId: key.sessionName },
    });
    return reread(trx, actor.tenantId, key.id);
  });
}

/**
 * Re-rolls the tenant's key: a new secret with the same scope, label, session and expiry; the old key is
 * accepted until `now + overlapSeconds` (0: refused at once) and points at its successor. A key that is
 * revoked, expired or already re-rolled cannot be re-rolled (409): re-roll its successor instead.
 */
export async function rerollTenantKey(
  db: Db,
  actor: KeyActor,
  keyId: string,
  options: { overlapSeconds: number; now: Date },
): Promise<IssuedKey & { replaced: TenantKeyRow }> {
  return db.transaction().execute(async (trx) => {
    await lockOwnTenant(trx, actor.tenantId);
    const old = await findTenantKey(trx, actor.tenantId, keyId, { forUpdate: true });
    if (!old) throw new ApiError('KEY_NOT_FOUND');
    const status = keyStatus(old, options.now);
    if (status === 'revoked') throw new ApiError('KEY_REVOKED');
    if (status === 'expired') throw new ApiError('KEY_EXPIRED');
    if (status !== 'active') throw new ApiError('KEY_REPLACED');

    const generated = await generateApiKey(old.scope);
    const id = await insertApiKey(trx, {
      digest: generated.digest,
      prefix: generated.displayPrefix,
      scope: old.scope,
      tenantId: actor.tenantId,
      sessionId: old.sessionUuid,
      label: old.label,
      expiresAt: old.expiresAt,
    });
    const overlapUntil = new Date(options.now.getTime() + options.overlapSeconds * 1000);
    await markKeyReplaced(trx, old.id, { replacedBy: id, overlapUntil });
    await recordAudit(trx, {
      tenantId: actor.tenantId,
      actor: actor.keyPrefix,
      action: 'api_key.reroll',
      target: old.id,
      detail: {
        prefix: old.prefix,
        scope: old.scope,
        sessionId: old.sessionName,
        newKeyId: id,
        newPrefix: generated.displayPrefix,
        overlapSeconds: options.overlapSeconds,
        overlapUntil: overlapUntil.toISOString(),
      },
    });
    return {
      apiKey: generated.key,
      key: await reread(trx, actor.tenantId, id),
      replaced: await reread(trx, actor.tenantId, old.id),
    };
  });
}

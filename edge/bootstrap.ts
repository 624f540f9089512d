// First start: the default tenant and its admin key. Runs from the start script (Node), but is plain
// Kysely and web crypto, so any entry could call it.
import { type Kysely, sql } from 'kysely';
import {
  CUSTOM_KEY_MIN_LENGTH,
  type CustomKeyProblem,
  customApiKeyProblem,
  digestApiKey,
  displayPrefixOf,
  generateApiKey,
  hasReservedPrefix,
  MAX_PRESENTED_KEY_LENGTH,
  parseApiKey,
} from '../shared/api-key.js';
import type { Database } from '../shared/db-schema.js';
import { insertApiKey } from './queries/api-keys.js';
import { recordAudit } from './queries/audit.js';

export const DEFAULT_TENANT_NAME = 'default';
/** Label of the admin key that came from the `API_KEY` setting. */
export const API_KEY_SETTING_LABEL = 'API_KEY';

export interface BootstrapOptions {
  /** The `API_KEY` setting: becomes the default tenant's admin key instead of a generated one. */
  apiKey?: string | undefined;
}

export type BootstrapOutcome =
  /** First start: tenant and a generated admin key (in `adminKey`, shown this once). */
  | 'created'
  /** First start: tenant, with `API_KEY` as its admin key. */
  | 'created-with-api-key'
  /** A later start with an `API_KEY` not seen before: it is now the admin key, the previous one revoked. */
  | 'api-key-replaced'
  /** Nothing to do. */
  | 'unchanged';

export interface BootstrapResult {
  tenantId: string;
  outcome: BootstrapOutcome;
  /** The generated admin key; only on the first start without `API_KEY`. Print it once, store it nowhere. */
  adminKey?: string;
}

/** A bad `API_KEY` setting; the message is for the operator and never contains the key. */
export class ApiKeySettingError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ApiKeySettingError';
  }
}

const PROBLEMS: Record<CustomKeyProblem, string> = {
  too_short: `API_KEY must be at least ${CUSTOM_KEY_MIN_LENGTH} characters long`,
  too_long: `API_KEY must be at most ${MAX_PRESENTED_KEY_LENGTH} characters long`,
  reserved_prefix: 'API_KEY starts like a gateway key (wag?_) but is not a valid one',
  default: 'API_KEY must not be "default" (the seed\'s default key is refused)',
  bad_characters: 'API_KEY may hold printable ASCII only, with no spaces at either end',
};

/**
 * Why `API_KEY` cannot be the admin key, or null when it can: any string of 32+ printable characters,
 * or one of our own tenant admin keys (`waga_...`, checksum and all).
 */
export function apiKeySettingProblem(text: string): string | null {
  if (hasReservedPrefix(text)) {
    const parsed = parseApiKey(text);
    if (!parsed.ok) return PROBLEMS.reserved_prefix;
    return parsed.scope === 'admin'
      ? null
      : 'API_KEY is a gateway key of another scope; use a tenant admin key';
  }
  const problem = customApiKeyProblem(text);
  return problem === null ? null : PROBLEMS[problem];
}

/**
 * Makes sure the default tenant exists with an admin key. Idempotent, and safe to run from several
 * processes at once (one advisory lock). Throws ApiKeySettingError for an unusable `API_KEY`.
 */
export async function ensureDefaultTenant(
  db: Kysely<Database>,
  options: BootstrapOptions = {},
): Promise<BootstrapResult> {
  const apiKey = options.apiKey === '' ? undefined : options.apiKey;
  if (apiKey !== undefined) {
    const problem = apiKeySettingProblem(apiKey);
    if (problem) throw new ApiKeySettingError(problem);
  }
  const setting =
    apiKey === undefined
      ? undefined
      : { digest: await digestApiKey(apiKey), prefix: displayPrefixOf(apiKey) };

  return db.transaction().execute(async (trx) => {
    await sql`select pg_advisory_xact_lock(hashtext('wa-gateway:bootstrap'))`.execute(trx);
    const existing = await trx
      .selectFrom('tenants')
      .select('id')
      .where('name', '=', DEFAULT_TENANT_NAME)
      .orderBy('created_at')
      .limit(1)
      .executeTakeFirst();

    if (!existing) {
      const tenant = await trx
        .insertInto('tenants')
        .values({ name: DEFAULT_TENANT_NAME })
        .returning('id')
        .executeTakeFirstOrThrow();
      let key = setting;
      let adminKey: string | undefined;
      if (!key) {
        const generated = await generateApiKey('admin');
        adminKey = generated.key;
        key = { digest: generated.digest, prefix: generated.displayPrefix };
      }
      await insertApiKey(trx, {
        ...key,
        scope: 'admin',
        tenantId: tenant.id,
        label: setting ? API_KEY_SETTING_LABEL : 'first start',
      });
      await recordAudit(trx, {
        tenantId: tenant.id,
        actor: null,
        action: 'tenant.bootstrap',
        target: tenant.id,
        detail: { adminKey: key.prefix, fromSetting: setting !== undefined },
      });
      return adminKey
        ? { tenantId: tenant.id, outcome: 'created', adminKey }
        : { tenantId: tenant.id, outcome: 'created-with-api-key' };
    }

    if (!setting) return { tenantId: existing.id, outcome: 'unchanged' };
    const known = await trx
      .selectFrom('api_keys')
      .select(['id', 'tenant_id', 'scope', 'revoked_at'])
      .where('digest', '=', setting.digest)
      .executeTakeFirst();
    if (known) {
      if (known.tenant_id !== existing.id || known.scope !== 'admin') {
        throw new ApiKeySettingError('API_KEY is already in use as another key; choose a different one');
      }
      if (known.revoked_at !== null) {
        throw new ApiKeySettingError('API_KEY was revoked; choose a new one');
      }
      return { tenantId: existing.id, outcome: 'unchanged' };
    }
    // A changed setting takes over: the key it replaces stops working, as whoever changed it expects.
    await trx
      .updateTable('api_keys')
      .set({ revoked_at: sql`now()` })
      .where('tenant_id', '=', existing.id)
      .where('label', '=', API_KEY_SETTING_LABEL)
      .where('revoked_at', 'is', null)
      .execute();
    await insertApiKey(trx, {
      ...setting,
      scope: 'admin',
      tenantId: existing.id,
      label: API_KEY_SETTING_LABEL,
    });
    await recordAudit(trx, {
      tenantId: existing.id,
      actor: null,
      action: 'api_key.replace_from_setting',
      target: existing.id,
      detail: { adminKey: setting.prefix },
    });
    return { tenantId: existing.id, outcome: 'api-key-replaced' };
  });
}

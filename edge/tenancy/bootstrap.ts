// First start: the default tenant and its admin key, and the operator key. Runs from the start script (Node), but is plain
// Kysely and web crypto, so any entry could call it.
import { type Kysely, sql } from 'kysely';
import {
  type ApiKeyScope,
  CUSTOM_KEY_MIN_LENGTH,
  type CustomKeyProblem,
  customApiKeyProblem,
  digestApiKey,
  displayPrefixOf,
  generateApiKey,
  hasReservedPrefix,
  MAX_PRESENTED_KEY_LENGTH,
  parseApiKey,
} from '../../shared/api-key.js';
import type { Database } from '../../shared/db-schema.js';
import { insertApiKey } from '../auth/queries/api-keys.js';
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

/** A bad `API_KEY` or `OPERATOR_KEY` setting; the message is for the operator and never contains the key. */
export class ApiKeySettingError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ApiKeySettingError';
  }
}

type KeySetting = 'API_KEY' | 'OPERATOR_KEY';

const SETTING_SCOPES = {
  API_KEY: { scope: 'admin', kind: 'a tenant admin key' },
  OPERATOR_KEY: { scope: 'operator', kind: 'an operator key' },
} as const satisfies Record<KeySetting, { scope: ApiKeyScope; kind: string }>;

const problems = (name: KeySetting): Record<CustomKeyProblem, string> => ({
  too_short: `${name} must be at least ${CUSTOM_KEY_MIN_LENGTH} characters long`,
  too_long: `${name} must be at most ${MAX_PRESENTED_KEY_LENGTH} characters long`,
  reserved_prefix: `${name} starts like a gateway key (wag?_) but is not a valid one`,
  default: `${name} must not be "default" (the seed's default key is refused)`,
  bad_characters: `${name} may hold printable ASCII only, with no spaces at either end`,
});

/**
 * Why a key setting cannot be used, or null when it can: any string of 32+ printable characters, or one
 * of our own keys of the setting's scope (checksum and all).
 */
function keySettingProblem(name: KeySetting, text: string): string | null {
  const { scope, kind } = SETTING_SCOPES[name];
  if (hasReservedPrefix(text)) {
    const parsed = parseApiKey(text);
    if (!parsed.ok) return problems(name).reserved_prefix;
    return parsed.scope === scope ? null : `${name} is a gateway key of another scope; use ${kind}`;
  }
  const problem = customApiKeyProblem(text);
  return problem === null ? null : problems(name)[problem];
}

/** Why `API_KEY` cannot be the admin key, or null when it can (32+ characters, or a `waga_` key). */
export function apiKeySettingProblem(text: string): string | null {
  return keySettingProblem('API_KEY', text);
}

/** Why `OPERATOR_KEY` cannot be the operator key, or null when it can (32+ characters, or a `wago_` key). */
export function operatorKeySettingProblem(text: string): string | null {
  return keySettingProblem('OPERATOR_KEY', text);
}

/** The setting as digest and display prefix; undefined when unset. Throws for an unusable one. */
async function settingOf(name: KeySetting, value: string | undefined) {
  if (value === undefined || value === '') return undefined;
  const problem = keySettingProblem(name, value);
  if (problem) throw new ApiKeySettingError(problem);
  return { digest: digestApiKey(value), prefix: displayPrefixOf(value) };
}

/**
 * What an already stored key with the setting's digest means: fine when it is a live key of the right
 * kind, else a clear refusal. A re-rolled one counts as retired: its successor is the key to set.
 */
function checkKnownSetting(
  name: KeySetting,
  known: { tenant_id: string | null; scope: string; revoked_at: Date | null; replaced_by: string | null },
  tenantId: string | null,
): void {
  if (known.tenant_id !== tenantId || known.scope !== SETTING_SCOPES[name].scope) {
    throw new ApiKeySettingError(`${name} is already in use as another key; choose a different one`);
  }
  if (known.revoked_at !== null) throw new ApiKeySettingError(`${name} was revoked; choose a new one`);
  if (known.replaced_by !== null) {
    throw new ApiKeySettingError(`${name} was re-rolled; set it to the key that replaced it, or unset it`);
  }
}

// One lock for every first-start step: they are rare, short, and may touch the same keys.
const lockBootstrap = (trx: Kysely<Database>) =>
  sql`select pg_advisory_xact_lock(hashtext('wa-gateway:bootstrap'))`.execute(trx);

/**
 * Makes sure the default tenant exists with an admin key. Idempotent, and safe to run from several
 * processes at once (one advisory lock). Throws ApiKeySettingError for an unusable `API_KEY`.
 */
export async function ensureDefaultTenant(
  db: Kysely<Database>,
  options: BootstrapOptions = {},
): Promise<BootstrapResult> {
  const setting = await settingOf('API_KEY', options.apiKey);

  return db.transaction().execute(async (trx) => {
    await lockBootstrap(trx);
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
      .select(['id', 'tenant_id', 'scope', 'revoked_at', 'replaced_by'])
      .where('digest', '=', setting.digest)
      .executeTakeFirst();
    if (known) {
      checkKnownSetting('API_KEY', known, existing.id);
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

/** Label of the operator key that came from the `OPERATOR_KEY` setting. */
export const OPERATOR_KEY_SETTING_LABEL = 'OPERATOR_KEY';

export type OperatorKeyOutcome =
  /** No operator key yet: one generated (in `operatorKey`, shown this once). */
  | 'created'
  /** No operator key from the setting yet: `OPERATOR_KEY` is now one. */
  | 'created-from-setting'
  /** A later start with an `OPERATOR_KEY` not seen before: it is now the key, the previous setting's revoked. */
  | 'replaced'
  /** Nothing to do. */
  | 'unchanged';

export interface OperatorKeyResult {
  outcome: OperatorKeyOutcome;
  /** The generated operator key; only when none existed and `OPERATOR_KEY` is unset. Print it once. */
  operatorKey?: string;
}

/**
 * Makes sure an operator key exists: `OPERATOR_KEY` (32+ characters, or a `wago_` key) when set, else one
 * generated on the first start that finds none. Works like `API_KEY`: a new setting retires the previous
 * setting's key, and a generated key stays valid. Idempotent, and safe from several processes at once.
 */
export async function ensureOperatorKey(
  db: Kysely<Database>,
  options: { operatorKey?: string | undefined } = {},
): Promise<OperatorKeyResult> {
  const setting = await settingOf('OPERATOR_KEY', options.operatorKey);

  return db.transaction().execute(async (trx) => {
    await lockBootstrap(trx);
    const live = await trx
      .selectFrom('api_keys')
      .select('label')
      .where('scope', '=', 'operator')
      .where('revoked_at', 'is', null)
      .execute();

    if (!setting) {
      if (live.length > 0) return { outcome: 'unchanged' };
      const generated = await generateApiKey('operator');
      await insertApiKey(trx, {
        digest: generated.digest,
        prefix: generated.displayPrefix,
        scope: 'operator',
        tenantId: null,
        label: 'first start',
      });
      await recordAudit(trx, {
        tenantId: null,
        actor: null,
        action: 'operator_key.bootstrap',
        target: null,
        detail: { operatorKey: generated.displayPrefix, fromSetting: false },
      });
      return { outcome: 'created', operatorKey: generated.key };
    }

    const known = await trx
      .selectFrom('api_keys')
      .select(['id', 'tenant_id', 'scope', 'revoked_at', 'replaced_by'])
      .where('digest', '=', setting.digest)
      .executeTakeFirst();
    if (known) {
      checkKnownSetting('OPERATOR_KEY', known, null);
      return { outcome: 'unchanged' };
    }
    const hadSetting = live.some((k) => k.label === OPERATOR_KEY_SETTING_LABEL);
    await trx
      .updateTable('api_keys')
      .set({ revoked_at: sql`now()` })
      .where('scope', '=', 'operator')
      .where('label', '=', OPERATOR_KEY_SETTING_LABEL)
      .where('revoked_at', 'is', null)
      .execute();
    await insertApiKey(trx, {
      ...setting,
      scope: 'operator',
      tenantId: null,
      label: OPERATOR_KEY_SETTING_LABEL,
    });
    await recordAudit(trx, {
      tenantId: null,
      actor: null,
      action: hadSetting ? 'operator_key.replace_from_setting' : 'operator_key.bootstrap',
      target: null,
      detail: { operatorKey: setting.prefix, fromSetting: true },
    });
    return { outcome: hadSetting ? 'replaced' : 'created-from-setting' };
  });
}

// The HTTP contract of the tenancy routes: operators manage tenants, tenant admins manage their sessions,
// keys and audit log. Bodies keep the seed's style (`success: true` beside the data, errors as
// ErrorResponseSchema). Timestamps are ISO 8601 strings in UTC.

import { z } from '@hono/zod-openapi';
import { PacingSchema } from './outbox.js';
import { SESSION_ID_PATTERN, SESSION_STATES, SessionIdSchema, UserSchema } from './schemas.js';

// ---------------------------------------------------------------------------------------------------
// Limits and fixed strings.

/** The longest re-roll overlap: 7 days. */
export const MAX_OVERLAP_SECONDS = 7 * 24 * 60 * 60;
export const DEFAULT_PAGE_LIMIT = 50;
export const MAX_PAGE_LIMIT = 100;
export const MAX_LABEL_LENGTH = 100;
export const MAX_TENANT_NAME_LENGTH = 100;

/** The seed's refusal for `GET /api/keys` without the admin key, kept for its clients. */
export const SEED_KEYS_FORBIDDEN_MESSAGE =
  'Tidak diizinkan. Hanya admin yang dapat mengakses daftar API key.';

const UUID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * Whether a path id could name a row. Ids that cannot are answered like unknown ones (404), so a probe
 * learns nothing from the difference and the database never sees a malformed uuid.
 */
export function isUuid(text: string): boolean {
  return UUID_PATTERN.test(text);
}

/** Whether a path segment could be a session name (the seed's `sessionId`). */
export function isSessionName(text: string): boolean {
  return SESSION_ID_PATTERN.test(text);
}

// ---------------------------------------------------------------------------------------------------
// Building blocks.

const Timestamp = z.iso.datetime().openapi({ example: '2025-01-31T08:00:00.000Z' });
const Uuid = z.string().openapi({ format: 'uuid', example: '0b7e3c1e-4d1a-4d7e-9f3a-2f1c6c1d2e3f' });

const trimmedText = (max: number) =>
  z
    .string()
    .trim()
    .min(1)
    .max(max)
    // Control characters in a label would end up in terminals and logs that show the listing.
    .refine((text) => !/\p{Cc}/u.test(text), { message: 'must not contain control characters' });

const limitSchema = z.coerce
  .number()
  .int()
  .min(1)
  .max(MAX_PAGE_LIMIT)
  .default(DEFAULT_PAGE_LIMIT)
  .openapi({ description: `Items per page, 1 to ${MAX_PAGE_LIMIT}`, example: 20 });

const uuidCursor = z.guid().optional().openapi({
  description: "The previous page's `nextCursor`; leave out for the first page",
});

/** `?limit=&cursor=` for listings ordered by creation time, oldest first, whose cursor is a row id. */
export const PageQuerySchema = z.object({ limit: limitSchema, cursor: uuidCursor }).openapi('PageQuery');

const NextCursor = z.string().nullable().openapi({
  description: 'Pass as `cursor` for the next page; null on the last page. Opaque: do not build one.',
});

// ---------------------------------------------------------------------------------------------------
// Tenants (operator key).

export const TenantStatusSchema = z.enum(['active', 'suspended']).openapi('TenantStatus');

export const TenantSchema = z
  .object({
    id: Uuid,
    name: z.string(),
    status: TenantStatusSchema,
    createdAt: Timestamp,
  })
  .openapi('Tenant');

export const TenantIdParamsSchema = z.object({
  id: z.string().openapi({ param: { name: 'id', in: 'path' }, format: 'uuid' }),
});

export const CreateTenantBodySchema = z
  .object({ name: trimmedText(MAX_TENANT_NAME_LENGTH).openapi({ example: 'Toko Budi' }) })
  .openapi('CreateTenantBody');

// ---------------------------------------------------------------------------------------------------
// API keys (tenant admin key; a session key for its own re-roll).

/** Scopes a tenant admin can issue; operator keys come only from the operator's own setting. */
export const TenantKeyScopeSchema = z.enum(['admin', 'session']).openapi('TenantKeyScope');

/**
 * Where a key stands now. `rotating`: re-rolled, still accepted until `overlapUntil`; `rotated-out`:
 * re-rolled and past its overlap. A key that is several of these shows the first of revoked, expired,
 * rotated-out, rotating.
 */
export const KeyStatusSchema = z
  .enum(['active', 'rotating', 'rotated-out', 'revoked', 'expired'])
  .openapi('KeyStatus');

/** A key as listings show it: never the key, never its digest. */
export const ApiKeyInfoSchema = z
  .object({
    id: Uuid,
    prefix: z.string().openapi({ description: 'The first characters of the key', example: 'wags_4fGh2Kq' }),
    scope: TenantKeyScopeSchema,
    label: z.string().nullable(),
    sessionId: SessionIdSchema.nullable().openapi({ description: 'The session a session key acts on' }),
    status: KeyStatusSchema,
    createdAt: Timestamp,
    lastUsedAt: Timestamp.nullable().openapi({ description: 'Recorded in batches: may lag a little' }),
    expiresAt: Timestamp.nullable(),
    revokedAt: Timestamp.nullable(),
    overlapUntil: Timestamp.nullable().openapi({ description: 'A re-rolled key is accepted until then' }),
    replacedBy: Uuid.nullable().openapi({ description: 'The key that replaced this one in a re-roll' }),
  })
  .openapi('ApiKeyInfo');

export const KeyIdParamsSchema = z.object({
  id: z.string().openapi({ param: { name: 'id', in: 'path' }, format: 'uuid' }),
});

export const CreateKeyBodySchema = z
  .object({
    scope: TenantKeyScopeSchema,
    sessionId: SessionIdSchema.optional().openapi({
      description: 'For a session key (required then): the session it acts on',
    }),
    label: trimmedText(MAX_LABEL_LENGTH).openapi({ example: 'billing backend' }),
    expiresAt: z.iso
      .datetime({ offset: true })
      .optional()
      .openapi({ description: 'When the key stops working; must be in the future. Default: never' }),
  })
  .superRefine((body, ctx) => {
    if (body.scope === 'session' && body.sessionId === undefined) {
      ctx.addIssue({ code: 'custom', path: ['sessionId'], message: 'required for a session key' });
    }
    if (body.scope === 'admin' && body.sessionId !== undefined) {
      ctx.addIssue({ code: 'custom', path: ['sessionId'], message: 'an admin key acts on no one session' });
    }
  })
  .openapi('CreateKeyBody', {
    example: { scope: 'session', sessionId: 'my-session', label: 'billing backend' },
  });

export const RerollKeyBodySchema = z
  .object({
    overlapSeconds: z
      .int()
      .min(0)
      .max(MAX_OVERLAP_SECONDS)
      .openapi({
        description: `How long the old key keeps working, 0 (it stops at once) to ${MAX_OVERLAP_SECONDS} (7 days)`,
        example: 3600,
      }),
  })
  .openapi('RerollKeyBody');

// ---------------------------------------------------------------------------------------------------
// Sessions (tenant admin key).

export const SessionInfoSchema = z
  .object({
    id: Uuid.openapi({ description: 'Internal id; audit entries name sessions by it' }),
    sessionId: SessionIdSchema,
    description: z.string().nullable(),
    // A plain string: the hosts write it, and a newer host may know a state this edge does not.
    state: z.string().openapi({
      description: `The session's state as its host last recorded it: ${SESSION_STATES.join(', ')}`,
      example: 'connected',
    }),
    user: UserSchema.nullable().openapi({ description: 'The linked account, when one is known' }),
    pacing: PacingSchema.nullable().openapi({
      description: "How fast the session sends; null: the deployment's defaults",
    }),
    outbox: z
      .object({
        queued: z.int().nonnegative().openapi({ description: 'Messages waiting to be sent' }),
        nextSendAt: Timestamp.nullable().openapi({
          description: 'When the host plans to send the next one (null: nothing waits, or not planned yet)',
        }),
      })
      .openapi({ description: 'The session’s outbox' }),
    createdAt: Timestamp,
    updatedAt: Timestamp,
  })
  .openapi('SessionInfo');

/** PATCH /api/admin/sessions/:sessionId */
export const SessionUpdateBodySchema = z
  .strictObject({
    pacing: PacingSchema.nullable().openapi({
      description: "All four values, or null for the deployment's defaults",
    }),
  })
  .openapi('SessionUpdateBody');

export const SessionNameParamsSchema = z.object({
  sessionId: z.string().openapi({ param: { name: 'sessionId', in: 'path' }, example: 'my-session' }),
});

// ---------------------------------------------------------------------------------------------------
// Audit log (tenant admin key).

export const AuditEntrySchema = z
  .object({
    id: z.string().openapi({
      description: "The entry's number in your tenant: 1, 2, 3... in the order things happened",
      example: '42',
    }),
    at: Timestamp,
    actor: z.string().nullable().openapi({
      description: "Display prefix of the key that acted; null for the gateway's own start-up",
      example: 'waga_9xYz1Ab',
    }),
    action: z.string().openapi({ example: 'api_key.reroll' }),
    target: z.string().nullable().openapi({ description: 'Id of the tenant, key or session acted on' }),
    detail: z
      .record(z.string(), z.unknown())
      .openapi({ description: 'What else is worth knowing; no secrets' }),
  })
  .openapi('AuditEntry');

export const AuditQuerySchema = z
  .object({
    limit: limitSchema,
    cursor: z
      .string()
      .regex(/^[1-9][0-9]{0,18}$/)
      .optional()
      .openapi({ description: "The previous page's `nextCursor`; leave out for the first page" }),
    order: z.enum(['desc', 'asc']).default('desc').openapi({
      description: '`desc` (default): newest first; `asc`: oldest first, in the order things happened',
    }),
  })
  .openapi('AuditQuery');

// ---------------------------------------------------------------------------------------------------
// Responses.

export const TenantListResponseSchema = z
  .object({ success: z.literal(true), tenants: z.array(TenantSchema), nextCursor: NextCursor })
  .openapi('TenantListResponse');

export const TenantResponseSchema = z
  .object({ success: z.literal(true), tenant: TenantSchema })
  .openapi('TenantResponse');

export const CreateTenantResponseSchema = z
  .object({
    success: z.literal(true),
    tenant: TenantSchema,
    apiKey: z.string().openapi({ description: "The tenant's first admin key; shown only in this response" }),
    key: ApiKeyInfoSchema,
  })
  .openapi('CreateTenantResponse');

export const KeyListResponseSchema = z
  .object({ success: z.literal(true), keys: z.array(ApiKeyInfoSchema), nextCursor: NextCursor })
  .openapi('KeyListResponse');

export const KeyResponseSchema = z
  .object({ success: z.literal(true), key: ApiKeyInfoSchema })
  .openapi('KeyResponse');

export const CreateKeyResponseSchema = z
  .object({
    success: z.literal(true),
    apiKey: z.string().openapi({ description: 'The new key; shown only in this response' }),
    key: ApiKeyInfoSchema,
  })
  .openapi('CreateKeyResponse');

export const RerollKeyResponseSchema = z
  .object({
    success: z.literal(true),
    apiKey: z.string().openapi({ description: 'The new key; shown only in this response' }),
    key: ApiKeyInfoSchema.openapi({ description: 'The new key' }),
    replaced: ApiKeyInfoSchema.openapi({ description: 'The old key, accepted until its `overlapUntil`' }),
  })
  .openapi('RerollKeyResponse');

export const SessionListResponseSchema = z
  .object({ success: z.literal(true), sessions: z.array(SessionInfoSchema), nextCursor: NextCursor })
  .openapi('SessionListResponse');

export const SessionResponseSchema = z
  .object({ success: z.literal(true), session: SessionInfoSchema })
  .openapi('SessionResponse');

export const HostInfoSchema = z
  .object({
    id: z.string().openapi({ example: 'host-1' }),
    url: z.string().openapi({ description: 'Where the edge reaches it (internal)' }),
    live: z.boolean().openapi({ description: 'It holds its lease (renewed with each heartbeat)' }),
    draining: z.boolean().openapi({
      description: 'Takes no new sessions and hands its own to other hosts (drained, or stopping)',
    }),
    sessions: z.int().nonnegative().openapi({ description: 'Sessions assigned to it' }),
    maxSessions: z
      .int()
      .positive()
      .nullable()
      .openapi({ description: 'How many it takes (HOST_MAX_SESSIONS); null: no limit' }),
    heartbeatAt: Timestamp,
    startedAt: Timestamp,
    whatsapp: z.object({
      status: z.enum(['unknown', 'reachable', 'unreachable']),
      error: z.string().nullable().openapi({ description: 'Why it is unreachable' }),
      checkedAt: Timestamp.nullable(),
    }),
  })
  .openapi('HostInfo');

export const HostResponseSchema = z
  .object({ success: z.literal(true), host: HostInfoSchema })
  .openapi('HostResponse');

export const HostIdParamsSchema = z.object({
  id: z
    .string()
    .regex(/^[A-Za-z0-9_.-]{1,64}$/)
    .openapi({ param: { name: 'id', in: 'path' }, example: 'host-1' }),
});

export const HostListResponseSchema = z
  .object({ success: z.literal(true), hosts: z.array(HostInfoSchema) })
  .openapi('HostListResponse');

export const AuditListResponseSchema = z
  .object({ success: z.literal(true), entries: z.array(AuditEntrySchema), nextCursor: NextCursor })
  .openapi('AuditListResponse');

export type PageQuery = z.infer<typeof PageQuerySchema>;
export type Tenant = z.infer<typeof TenantSchema>;
export type HostInfo = z.infer<typeof HostInfoSchema>;
export type TenantKeyScope = z.infer<typeof TenantKeyScopeSchema>;
export type KeyStatus = z.infer<typeof KeyStatusSchema>;
export type ApiKeyInfo = z.infer<typeof ApiKeyInfoSchema>;
export type CreateKeyBody = z.infer<typeof CreateKeyBodySchema>;
export type RerollKeyBody = z.infer<typeof RerollKeyBodySchema>;
export type SessionInfo = z.infer<typeof SessionInfoSchema>;
export type AuditEntryInfo = z.infer<typeof AuditEntrySchema>;
export type AuditQuery = z.infer<typeof AuditQuerySchema>;
export type CreateTenantResponse = z.infer<typeof CreateTenantResponseSchema>;
export type CreateKeyResponse = z.infer<typeof CreateKeyResponseSchema>;
export type RerollKeyResponse = z.infer<typeof RerollKeyResponseSchema>;

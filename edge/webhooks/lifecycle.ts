// Changes to a tenant's webhook endpoints. Each is one transaction with its audit entry (no secret ever
// goes in one), on the endpoint's locked row, so two admins acting at once each see the other's change.
import type { Kysely } from 'kysely';
import type { Database, JsonValue } from '../../shared/db-schema.js';
import { ApiError } from '../../shared/errors.js';
import { insertEvent } from '../../shared/event-log.js';
import { EVENT_ID_PATTERN, type EventType } from '../../shared/events.js';
import { tellDeliveriesQueued } from '../../shared/webhook-notices.js';
import { recordAudit } from '../tenancy/queries/audit.js';
import { findTenantSession } from '../tenancy/queries/sessions.js';
import { insertDelivery, replayEvent, replaySince } from './queries/deliveries.js';
import {
  deleteEndpoint,
  type EndpointChanges,
  type EndpointRow,
  findEndpoint,
  insertEndpoint,
  isDuplicateEndpoint,
  type LockedEndpoint,
  lockEndpoint,
  updateEndpoint,
  wakeEndpoint,
} from './queries/endpoints.js';

/** Who acts: the tenant and the display prefix of the admin key used. */
export interface WebhookActor {
  tenantId: string;
  keyPrefix: string;
}

type Db = Kysely<Database>;

/** Why an endpoint an admin turned off is off. */
export const DISABLED_BY_ADMIN = 'disabled by an admin';

export const TEST_EVENT_MESSAGE =
  'This is a test event from wa-gateway: your endpoint receives our webhooks.';

const eventTypesOf = (events: EventType[] | null | undefined): string[] | null =>
  events === null || events === undefined ? null : [...new Set(events)];

async function sessionUuidOf(trx: Db, tenantId: string, name: string | null): Promise<string | null> {
  if (name === null) return null;
  const session = await findTenantSession(trx, tenantId, name);
  if (!session) throw new ApiError('SESSION_NOT_FOUND');
  return session.id;
}

async function locked(trx: Db, actor: WebhookActor, id: string): Promise<LockedEndpoint> {
  const endpoint = await lockEndpoint(trx, actor.tenantId, id);
  if (!endpoint) throw new ApiError('WEBHOOK_NOT_FOUND');
  return endpoint;
}

async function reread(trx: Db, tenantId: string, id: string): Promise<EndpointRow> {
  const endpoint = await findEndpoint(trx, tenantId, id);
  if (!endpoint) throw new Error(`webhook ${id} vanished inside its own transaction`);
  return endpoint;
}

const audit = (
  trx: Db,
  actor: WebhookActor,
  action: string,
  target: string,
  detail: { [key: string]: JsonValue },
) => recordAudit(trx, { tenantId: actor.tenantId, actor: actor.keyPrefix, action, target, detail });

/** Registers an endpoint whose URL has been checked, with its secret already sealed. */
export async function createWebhook(
  db: Db,
  actor: WebhookActor,
  input: {
    url: string;
    events: EventType[] | null | undefined;
    sessionName: string | null;
    description: string | undefined;
    sealedSecret: Uint8Array;
  },
): Promise<EndpointRow> {
  return db.transaction().execute(async (trx) => {
    const sessionUuid = await sessionUuidOf(trx, actor.tenantId, input.sessionName);
    const eventTypes = eventTypesOf(input.events);
    const description = input.description || null;
    const inserted = await insertEndpoint(trx, {
      tenantId: actor.tenantId,
      url: input.url,
      description,
      eventTypes,
      sessionUuid,
      secret: input.sealedSecret,
    });
    if (!inserted) throw new ApiError('WEBHOOK_EXISTS');
    await audit(trx, actor, 'webhook.create', inserted.id, {
      url: input.url,
      events: eventTypes,
      sessionId: input.sessionName,
      description,
    });
    return reread(trx, actor.tenantId, inserted.id);
  });
}

export interface WebhookPatch {
  /** Checked already. */
  url?: string | undefined;
  events?: EventType[] | null | undefined;
  sessionName?: string | null | undefined;
  description?: string | null | undefined;
  enabled?: boolean | undefined;
}

/**
 * Changes what was asked. A new URL, or enabling a disabled endpoint, resumes deliveries at once (and
 * forgets the failures, which were the old URL's or have been dealt with); disabling stops them until
 * enabled again. Nothing to change: no write, no audit entry.
 */
export async function updateWebhook(db: Db, actor: WebhookActor, id: string, patch: WebhookPatch) {
  return db.transaction().execute(async (trx) => {
    const current = await locked(trx, actor, id);
    const changes: EndpointChanges = {};
    const detail: { [key: string]: JsonValue } = {};
    if (patch.url !== undefined && patch.url !== current.url) {
      Object.assign(changes, { url: patch.url, failing_since: null, resumeNow: true });
      detail.url = patch.url;
    }
    if (patch.events !== undefined) {
      const eventTypes = eventTypesOf(patch.events);
      if (JSON.stringify(eventTypes) !== JSON.stringify(current.eventTypes)) {
        changes.event_types = eventTypes;
        detail.events = eventTypes;
      }
    }
    if (patch.sessionName !== undefined) {
      const sessionUuid = await sessionUuidOf(trx, actor.tenantId, patch.sessionName);
      if (sessionUuid !== current.sessionUuid) {
        changes.session_id = sessionUuid;
        detail.sessionId = patch.sessionName;
      }
    }
    if (patch.description !== undefined) {
      const description = patch.description || null;
      if (description !== current.description) {
        changes.description = description;
        detail.description = description;
      }
    }
    if (patch.enabled === true && !current.enabled) {
      Object.assign(changes, { enabled: true, disabled_reason: null, failing_since: null, resumeNow: true });
      detail.enabled = true;
    } else if (patch.enabled === false && current.enabled) {
      Object.assign(changes, { enabled: false, disabled_reason: DISABLED_BY_ADMIN });
      detail.enabled = false;
    }
    if (Object.keys(detail).length === 0) return reread(trx, actor.tenantId, id);
    try {
      await updateEndpoint(trx, id, changes);
    } catch (err) {
      if (isDuplicateEndpoint(err)) throw new ApiError('WEBHOOK_EXISTS', { cause: err });
      throw err;
    }
    await audit(trx, actor, 'webhook.update', id, { fields: Object.keys(detail), ...detail });
    return reread(trx, actor.tenantId, id);
  });
}

/** Deletes an endpoint, its pending deliveries and its delivery log. */
export async function deleteWebhook(db: Db, actor: WebhookActor, id: string): Promise<void> {
  await db.transaction().execute(async (trx) => {
    const current = await locked(trx, actor, id);
    await deleteEndpoint(trx, id);
    await audit(trx, actor, 'webhook.delete', id, { url: current.url });
  });
}

/**
 * A new signing secret (sealed already). The old one signs deliveries too until `now + overlapSeconds`
 * (0: it stops at once); one rotated out earlier and still in its overlap stops now.
 */
export async function rotateWebhookSecret(
  db: Db,
  actor: WebhookActor,
  id: string,
  input: { sealedSecret: Uint8Array; overlapSeconds: number; now: Date },
): Promise<EndpointRow> {
  return db.transaction().execute(async (trx) => {
    const current = await locked(trx, actor, id);
    const previousUntil =
      input.overlapSeconds > 0 ? new Date(input.now.getTime() + input.overlapSeconds * 1000) : null;
    await updateEndpoint(trx, id, {
      secret: input.sealedSecret,
      previous_secret: previousUntil ? current.secret : null,
      previous_until: previousUntil,
    });
    await audit(trx, actor, 'webhook.rotate_secret', id, {
      overlapSeconds: input.overlapSeconds,
      previousUntil: previousUntil?.toISOString() ?? null,
    });
    return reread(trx, actor.tenantId, id);
  });
}

/**
 * A `webhook.test` event of the tenant, delivered to this endpoint only (the fan-out leaves test events
 * alone), in order behind whatever the endpoint has pending. Returns the event's id.
 */
export async function sendTestEvent(db: Db, actor: WebhookActor, id: string): Promise<string> {
  return db.transaction().execute(async (trx) => {
    await locked(trx, actor, id);
    const event = await insertEvent(
      trx,
      { tenantId: actor.tenantId, sessionId: null, sessionName: null },
      'webhook.test',
      { webhookId: id, message: TEST_EVENT_MESSAGE },
    );
    await insertDelivery(trx, id, event);
    await tellDeliveriesQueued(trx, actor.tenantId);
    await audit(trx, actor, 'webhook.test', id, { eventId: event.id });
    return event.id;
  });
}

/**
 * Queues events for the endpoint again: one (404 EVENT_NOT_FOUND unless it is the tenant's and one the
 * endpoint would get by its session), or every one since a time that its filters take. The endpoint is
 * claimed at once, and sends them in event order. Returns how many were queued.
 */
export async function replayWebhook(
  db: Db,
  actor: WebhookActor,
  id: string,
  what: { eventId: string } | { since: Date },
): Promise<number> {
  return db.transaction().execute(async (trx) => {
    await locked(trx, actor, id);
    let replayed: number;
    if ('eventId' in what) {
      replayed = EVENT_ID_PATTERN.test(what.eventId)
        ? await replayEvent(trx, actor.tenantId, id, what.eventId)
        : 0;
      if (replayed === 0) throw new ApiError('EVENT_NOT_FOUND');
    } else {
      replayed = await replaySince(trx, actor.tenantId, id, what.since);
    }
    await wakeEndpoint(trx, id);
    await tellDeliveriesQueued(trx, actor.tenantId);
    await audit(trx, actor, 'webhook.replay', id, {
      ...('eventId' in what ? { eventId: what.eventId } : { since: what.since.toISOString() }),
      replayed,
    });
    return replayed;
  });
}

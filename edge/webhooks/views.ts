// Endpoints and delivery attempts as the webhook routes show them (shared/webhook-schemas.ts): ISO
// timestamps, session names, and never a secret.
import type { EventType } from '../../shared/events.js';
import type { DeliveryAttemptInfo, WebhookInfo } from '../../shared/webhook-schemas.js';
import type { AttemptRow } from './queries/deliveries.js';
import type { EndpointRow } from './queries/endpoints.js';

const iso = (date: Date | null): string | null => (date === null ? null : date.toISOString());

export function webhookView(endpoint: EndpointRow): WebhookInfo {
  return {
    id: endpoint.id,
    url: endpoint.url,
    description: endpoint.description,
    // Written from EventTypeSchema only (routes/webhook-create.ts, webhook-update.ts).
    events: endpoint.eventTypes as EventType[] | null,
    sessionId: endpoint.sessionName,
    enabled: endpoint.enabled,
    disabledReason: endpoint.disabledReason,
    failingSince: iso(endpoint.failingSince),
    nextAttemptAt: endpoint.nextAttemptAt.toISOString(),
    pending: endpoint.pending,
    createdAt: endpoint.createdAt.toISOString(),
    updatedAt: endpoint.updatedAt.toISOString(),
  };
}

export function attemptView(attempt: AttemptRow): DeliveryAttemptInfo {
  return {
    id: attempt.id,
    eventId: attempt.eventId,
    eventType: attempt.eventType,
    attemptedAt: attempt.attemptedAt.toISOString(),
    statusCode: attempt.statusCode,
    latencyMs: attempt.latencyMs,
    error: attempt.error,
    outcome: attempt.outcome,
    nextAttemptAt: iso(attempt.nextAttemptAt),
  };
}

// Events as the API shows them (shared/events.ts EventSchema).
import type { GatewayEvent } from '../../shared/events.js';
import type { StoredEvent } from './queries/events.js';

/** A stored event as the API shows it; `sessionId` is the session's name, null for the tenant's own. */
export function eventView(event: StoredEvent): GatewayEvent {
  // The hosts and the edge write `data` through insertEvent<T>, typed by EVENT_DATA for its `type`.
  return {
    id: event.id,
    type: event.type,
    timestamp: event.createdAt.toISOString(),
    sessionId: event.sessionName,
    data: event.data,
  } as GatewayEvent;
}

import type { EdgeApp, EdgeServices } from '../../services.js';
import { registerMessageCancel } from './message-cancel.js';
import { registerMessageCreate } from './message-create.js';
import { registerSend } from './send.js';

/** Sending: `/api/send` (waits for WhatsApp) and the outbox (queues, answers at once, can be cancelled). */
export function registerOutboxRoutes(app: EdgeApp, services: EdgeServices): void {
  registerSend(app, services);
  registerMessageCreate(app, services);
  registerMessageCancel(app, services);
}

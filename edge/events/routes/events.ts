import type { EdgeApp, EdgeServices } from '../../services.js';
import { registerAdminMessageGet } from './admin-message-get.js';
import { registerAdminMessageList } from './admin-message-list.js';
import { registerEventList } from './event-list.js';
import { registerMessageGet } from './message-get.js';
import { registerMessageList } from './message-list.js';
import { registerMessageMedia } from './message-media.js';

/** The message store and the event log: what happened in the sessions, for clients to pull. */
export function registerEventRoutes(app: EdgeApp, services: EdgeServices): void {
  registerMessageList(app, services);
  registerMessageGet(app, services);
  registerMessageMedia(app, services);
  registerAdminMessageList(app, services);
  registerAdminMessageGet(app, services);
  registerEventList(app, services);
}

// A typed client for TypeScript users: Hono's `hc` over a type that chains every route of the edge's
// API (each file registers its own route at run time, so the app's own type carries none).
import { OpenAPIHono } from '@hono/zod-openapi';
import { hc } from 'hono/client';
import { chatPresenceRoute, chatReadRoute, contactsCheckRoute } from './chats/routes/chats.js';
import { adminMessageGetRoute } from './events/routes/admin-message-get.js';
import { adminMessageListRoute } from './events/routes/admin-message-list.js';
import { eventListRoute } from './events/routes/event-list.js';
import { messageGetRoute } from './events/routes/message-get.js';
import { messageListRoute } from './events/routes/message-list.js';
import { messageMediaRoute } from './events/routes/message-media.js';
import { messageCancelRoute } from './outbox/routes/message-cancel.js';
import { messageCreateRoute } from './outbox/routes/message-create.js';
import { sendRoute } from './outbox/routes/send.js';
import { healthRoute } from './routes/health.js';
import { sessionCreateRoute } from './routes/session-create.js';
import { sessionEventsRoute } from './routes/session-events.js';
import { sessionLogoutRoute } from './routes/session-logout.js';
import { sessionPairingCodeRoute } from './routes/session-pairing-code.js';
import { sessionQrRoute } from './routes/session-qr.js';
import { sessionStatusRoute } from './routes/session-status.js';
import { adminAuditListRoute } from './tenancy/routes/admin-audit-list.js';
import { adminKeyCreateRoute } from './tenancy/routes/admin-key-create.js';
import { adminKeyGetRoute } from './tenancy/routes/admin-key-get.js';
import { adminKeyListRoute } from './tenancy/routes/admin-key-list.js';
import { adminKeyRerollRoute } from './tenancy/routes/admin-key-reroll.js';
import { adminKeyRevokeRoute } from './tenancy/routes/admin-key-revoke.js';
import { adminSessionGetRoute } from './tenancy/routes/admin-session-get.js';
import { adminSessionListRoute } from './tenancy/routes/admin-session-list.js';
import { adminSessionUpdateRoute } from './tenancy/routes/admin-session-update.js';
import { keySelfRerollRoute } from './tenancy/routes/key-self-reroll.js';
import { hostDrainRoute } from './tenancy/routes/operator-host-drain.js';
import { operatorHostListRoute } from './tenancy/routes/operator-host-list.js';
import { operatorTenantCreateRoute } from './tenancy/routes/operator-tenant-create.js';
import { operatorTenantListRoute } from './tenancy/routes/operator-tenant-list.js';
import { tenantStatusRoute } from './tenancy/routes/operator-tenant-status.js';
import { seedKeyListRoute } from './tenancy/routes/seed-key-list.js';
import { webhookCreateRoute } from './webhooks/routes/webhook-create.js';
import { webhookDeleteRoute } from './webhooks/routes/webhook-delete.js';
import { webhookDeliveriesRoute } from './webhooks/routes/webhook-deliveries.js';
import { webhookGetRoute } from './webhooks/routes/webhook-get.js';
import { webhookListRoute } from './webhooks/routes/webhook-list.js';
import { webhookReplayRoute } from './webhooks/routes/webhook-replay.js';
import { webhookRotateSecretRoute } from './webhooks/routes/webhook-rotate-secret.js';
import { webhookTestRoute } from './webhooks/routes/webhook-test.js';
import { webhookUpdateRoute } from './webhooks/routes/webhook-update.js';

/** Never called: its type is the point (a handler of any route's answers). */
const typeOnly = (): never => {
  throw new Error('type only');
};

/** Every route, chained so their types add up (built only by the test that checks none is missing). */
export const clientRoutes = () =>
  new OpenAPIHono()
    .openapi(chatReadRoute, typeOnly)
    .openapi(chatPresenceRoute, typeOnly)
    .openapi(contactsCheckRoute, typeOnly)
    .openapi(adminMessageGetRoute, typeOnly)
    .openapi(adminMessageListRoute, typeOnly)
    .openapi(eventListRoute, typeOnly)
    .openapi(messageGetRoute, typeOnly)
    .openapi(messageListRoute, typeOnly)
    .openapi(messageMediaRoute, typeOnly)
    .openapi(messageCancelRoute, typeOnly)
    .openapi(messageCreateRoute, typeOnly)
    .openapi(sendRoute, typeOnly)
    .openapi(healthRoute, typeOnly)
    .openapi(sessionCreateRoute, typeOnly)
    .openapi(sessionEventsRoute, typeOnly)
    .openapi(sessionLogoutRoute, typeOnly)
    .openapi(sessionPairingCodeRoute, typeOnly)
    .openapi(sessionQrRoute, typeOnly)
    .openapi(sessionStatusRoute, typeOnly)
    .openapi(adminAuditListRoute, typeOnly)
    .openapi(adminKeyCreateRoute, typeOnly)
    .openapi(adminKeyGetRoute, typeOnly)
    .openapi(adminKeyListRoute, typeOnly)
    .openapi(adminKeyRerollRoute, typeOnly)
    .openapi(adminKeyRevokeRoute, typeOnly)
    .openapi(adminSessionGetRoute, typeOnly)
    .openapi(adminSessionListRoute, typeOnly)
    .openapi(adminSessionUpdateRoute, typeOnly)
    .openapi(keySelfRerollRoute, typeOnly)
    .openapi(operatorHostListRoute, typeOnly)
    .openapi(operatorTenantCreateRoute, typeOnly)
    .openapi(operatorTenantListRoute, typeOnly)
    .openapi(seedKeyListRoute, typeOnly)
    .openapi(webhookCreateRoute, typeOnly)
    .openapi(webhookDeleteRoute, typeOnly)
    .openapi(webhookDeliveriesRoute, typeOnly)
    .openapi(webhookGetRoute, typeOnly)
    .openapi(webhookListRoute, typeOnly)
    .openapi(webhookReplayRoute, typeOnly)
    .openapi(webhookRotateSecretRoute, typeOnly)
    .openapi(webhookTestRoute, typeOnly)
    .openapi(webhookUpdateRoute, typeOnly)
    .openapi(tenantStatusRoute('suspend'), typeOnly)
    .openapi(tenantStatusRoute('resume'), typeOnly)
    .openapi(hostDrainRoute('drain'), typeOnly)
    .openapi(hostDrainRoute('undrain'), typeOnly);

/** The gateway's API as a type, for `hc<GatewayApi>(url)`. */
export type GatewayApi = ReturnType<typeof clientRoutes>;

/** A typed client of the gateway at `baseUrl`, sending `apiKey` as `x-api-key` with every call. */
export const gatewayClient = (baseUrl: string, apiKey: string) =>
  hc<GatewayApi>(baseUrl, { headers: { 'x-api-key': apiKey } });

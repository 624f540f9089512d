// A host's webhook worker wired to PostgreSQL's notices (shared/webhook-notices.ts).
import { ENDPOINTS_CHANNEL, WEBHOOK_CHANNEL } from '../../shared/webhook-notices.js';
import type { Listener } from '../db/connect.js';
import type { WebhookWorker } from './worker.js';

/**
 * Deliveries others queued (what `ownWriter`, the host's own connections, wrote woke the worker already)
 * and changes to endpoints reach `worker`. Resolves to what stops both.
 */
export async function hearWebhookNotices(
  worker: WebhookWorker,
  listener: Listener,
  ownWriter: string,
): Promise<() => Promise<void>> {
  const unlistenDue = await listener.listen(WEBHOOK_CHANNEL, (payload) => worker.heard(payload, ownWriter));
  const unlistenEndpoints = await listener.listen(ENDPOINTS_CHANNEL, (tenantId) => {
    void worker.endpointsChanged(tenantId);
  });
  return async () => {
    await unlistenDue();
    await unlistenEndpoints();
  };
}

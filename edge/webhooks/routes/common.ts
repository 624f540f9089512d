import { isUuid } from '../../../shared/admin-schemas.js';
import { ApiError } from '../../../shared/errors.js';
import { type EdgeContext, principalOf } from '../../context.js';
import type { WebhookActor } from '../lifecycle.js';

/** The calling admin as the audit log names it. */
export function actorOf(c: EdgeContext): WebhookActor {
  const admin = principalOf(c, 'admin');
  return { tenantId: admin.tenantId, keyPrefix: admin.keyPrefix };
}

/** A path id that could name an endpoint; any other is 404 like an unknown one, without a query. */
export function webhookIdOf(id: string): string {
  if (!isUuid(id)) throw new ApiError('WEBHOOK_NOT_FOUND');
  return id;
}

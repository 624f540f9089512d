import { ApiError } from '../../shared/errors.js';
import type { SecretBox } from '../../shared/webhook-secrets.js';
import type { EdgeServices } from '../services.js';

/**
 * The box webhook secrets are sealed in. Without WEBHOOK_SECRET_KEY the edge cannot store a secret the
 * hosts could open: the request fails as a 500, and the log says what to set.
 */
export function secretBoxOf(services: EdgeServices): SecretBox {
  if (services.webhookSecrets) return services.webhookSecrets;
  throw new ApiError('INTERNAL_ERROR', {
    cause: new Error(
      'WEBHOOK_SECRET_KEY is missing: the edge cannot store webhook secrets. Set it (32 bytes in base64) ' +
        'to the same value as the session hosts',
    ),
  });
}

import type { HostSessionAction } from '../shared/host-api.js';
import { dbOf, type EdgeContext, principalOf } from './context.js';
import type { HostClient, HostReply } from './host-client.js';
import type { EdgeLogger } from './logger.js';
import { routeSession } from './placement.js';

export interface Forwarder {
  /**
   * Sends the calling session key's request to the host that owns its session. The session is always the
   * key's own: nothing in the request can name another one.
   */
  toSessionHost(c: EdgeContext, action: HostSessionAction, body?: unknown): Promise<HostReply>;
}

export interface ForwarderOptions {
  hosts: HostClient;
  logger: EdgeLogger;
  livenessSeconds: number;
  timeoutMsFor(action: HostSessionAction): number;
}

/** Routes session-key requests to their owning host, moving the session first when its owner is dead. */
export function createForwarder(options: ForwarderOptions): Forwarder {
  return {
    async toSessionHost(c, action, body) {
      const principal = principalOf(c, 'session');
      const route = await routeSession(dbOf(c), principal.sessionId, options.livenessSeconds);
      const target = {
        host: route.host,
        sessionId: principal.sessionId,
        tenantId: principal.tenantId,
        scope: principal.scope,
      };
      if (route.moved) {
        options.logger.warn(
          { sessionId: principal.sessionId, tenantId: principal.tenantId, hostId: route.host.id },
          'session moved from a dead host',
        );
        // Let the new owner resume the session now (linked sessions reconnect without a QR); the request
        // itself follows regardless of how this goes.
        if (action !== 'start') {
          await options.hosts
            .call({ ...target, action: 'start', timeoutMs: options.timeoutMsFor('start') })
            .catch(() => undefined);
        }
      }
      return options.hosts.call({ ...target, action, body, timeoutMs: options.timeoutMsFor(action) });
    },
  };
}

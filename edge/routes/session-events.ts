// GET /api/session/events: the session's linking as Server-Sent Events, read from the event log, so a
// stream resumes anywhere (Last-Event-ID) and works on every runtime the edge runs on.
import { createRoute, z } from '@hono/zod-openapi';
import { type SSEStreamingApi, streamSSE } from 'hono/streaming';
import { ApiError } from '../../shared/errors.js';
import type { SessionState } from '../../shared/schemas.js';
import { requireScope } from '../auth/authenticate.js';
import { dbOf, holdDbOf, principalOf } from '../context.js';
import { POLL_INTERVAL_MS } from '../events/long-poll.js';
import { type EventScope, findEventSeq, lastEventSeq, listEvents } from '../events/queries/events.js';
import { eventView } from '../events/views.js';
import { HostQrReply, hostResult } from '../hosts/replies.js';
import { API_KEY_SECURITY, errorResponses } from '../http/openapi.js';
import type { EdgeApp, EdgeServices } from '../services.js';

/** States a linking ends in: the stream ends after telling it. */
const ENDS: ReadonlySet<string> = new Set<SessionState>([
  'connected',
  'logged-out',
  'replaced',
  'qr-expired',
  'failed',
]);

/** A stream ends after this long in any case; the client reconnects with Last-Event-ID. */
const MAX_STREAM_MS = 5 * 60_000;
/** A comment this often keeps proxies from closing a quiet stream. */
const KEEP_ALIVE_MS = 15_000;

export const sessionEventsRoute = createRoute({
  operationId: 'sessionEvents',
  method: 'get',
  path: '/api/session/events',
  summary: "The session's linking, live: each new QR and every state change (Server-Sent Events)",
  description:
    'Needs the session key. Starts a pairing when the session is not linked, as `GET /api/session/qr` ' +
    'does. First a `state` event (no id) with where the session is now and its current QR text; then ' +
    'each `session.qr` (a new QR to show), `session.pairing_code` (a code was given out, see ' +
    '`POST /api/session/pairing-code`) and `session.status` (a state change) as the event log has ' +
    'them, with the event id as the SSE id, until the session is `connected` or rests (`logged-out`, ' +
    '`replaced`, `qr-expired`, `failed`): then the stream ends. A linked session gets its `state` ' +
    'and the end at once. Reconnect with `Last-Event-ID` to resume after that event (no `state` then); ' +
    'one that is not an event of this session is 400 `INVALID_CURSOR`. A stream ends after 5 minutes ' +
    'in any case.',
  tags: ['Sessions'],
  security: [{ [API_KEY_SECURITY]: [] }],
  middleware: [requireScope('session')] as const,
  responses: {
    200: {
      description: 'The stream (`text/event-stream`)',
      content: { 'text/event-stream': { schema: z.string() } },
    },
    ...errorResponses(400, 401, 403, 404, 503),
  },
});

/** GET /api/session/events */
export function registerSessionEvents(app: EdgeApp, { forwarder }: EdgeServices): void {
  app.openapi(sessionEventsRoute, async (c) => {
    const principal = principalOf(c, 'session');
    const scope: EventScope = { tenantId: principal.tenantId, sessionId: principal.sessionId };
    const db = dbOf(c);
    const lastId = c.req.header('last-event-id');
    let afterSeq: string;
    if (lastId !== undefined) {
      // Malformed, unknown or another session's: one answer, so it reveals nothing.
      const seq = await findEventSeq(db, scope, lastId);
      if (seq === undefined) throw new ApiError('INVALID_CURSOR');
      afterSeq = seq;
    } else {
      afterSeq = await lastEventSeq(db, scope);
    }
    const host = hostResult(await forwarder.toSessionHost(c, { action: 'qr' }), HostQrReply, 'qr');
    const settled = host.connected || ENDS.has(host.state);
    // Read while the stream lasts, after this handler has returned (Workers close a request's own).
    const release = holdDbOf(c);
    return streamSSE(c, async (stream) => {
      try {
        await follow(stream);
      } finally {
        await release();
      }
    });

    async function follow(stream: SSEStreamingApi) {
      if (lastId === undefined) {
        const now = { state: host.state, connected: host.connected, qr: host.qr ?? null };
        await stream.writeSSE({ event: 'state', data: JSON.stringify(now) });
      }
      const until = Date.now() + MAX_STREAM_MS;
      let quietSince = Date.now();
      while (!stream.aborted && Date.now() < until) {
        const events = await listEvents(db, scope, {
          afterSeq,
          types: ['session.qr', 'session.pairing_code', 'session.status'],
          limit: 100,
        });
        for (const event of events) {
          afterSeq = event.seq;
          await stream.writeSSE({ id: event.id, event: event.type, data: JSON.stringify(eventView(event)) });
          const state = (event.data as { state?: string } | null)?.state;
          if (event.type === 'session.status' && state !== undefined && ENDS.has(state)) return;
        }
        if (events.length > 0) {
          quietSince = Date.now();
          continue;
        }
        // Linked or resting already, and nothing after the cursor says otherwise: nothing will come.
        if (settled) return;
        if (Date.now() - quietSince >= KEEP_ALIVE_MS) {
          await stream.write(': keep-alive\n\n');
          quietSince = Date.now();
        }
        await stream.sleep(POLL_INTERVAL_MS);
      }
    }
  });
}

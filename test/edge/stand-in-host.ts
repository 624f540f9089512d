// STAND-IN for a session host, for the edge's own tests only. It is NOT node-runtime/host: it runs no
// session actor and no Baileys, it only checks the edge's JWT with the real verifyHostToken and answers
// canned bodies in the shape of the host API (shared/host-api.ts). The full flow against the real host
// and the WhatsApp simulator lives in test/e2e/.
import type { AddressInfo } from 'node:net';
import { createAdaptorServer, type HttpBindings } from '@hono/node-server';
import { Hono } from 'hono';
import { decodeJwt } from 'jose';
import type { HostSessionAction } from '../../shared/host-api.js';
import { type HostTokenClaims, VerifiedTokens, verifyHostToken } from '../../shared/jwt.js';

export interface HostCallRecord {
  action: HostSessionAction;
  /** The session id in the path. */
  pathSessionId: string;
  claims: HostTokenClaims;
  /** iat and exp as signed. */
  issuedAt: number;
  expiresAt: number;
  body: unknown;
  /** Which TCP connection it came over: an index into the stand-in's connections since its start. */
  connection: number;
}

export interface CannedReply {
  status?: number;
  body?: unknown;
  /** Raw text instead of JSON. */
  text?: string;
  /** Wait this long before answering. */
  delayMs?: number;
  headers?: Record<string, string>;
  /** Destroy the connection instead of answering, as a host closing it under the request does. */
  reset?: boolean;
  /** Send the status and the start of the body, then nothing more (the connection stays open). */
  stall?: boolean;
}

/** One TCP connection the stand-in accepted, with times from `performance.now()`. */
export interface ConnectionRecord {
  openedAt: number;
  /** When the client ended it (its FIN arrived), if it did. */
  endedByClientAt?: number;
  closedAt?: number;
}

export type Answer = (call: HostCallRecord) => CannedReply | Promise<CannedReply>;

export const DEFAULT_QR_PNG =
  'data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==';

const DEFAULTS: Record<HostSessionAction, Answer> = {
  start: () => ({ body: { state: 'connecting', connected: false, qr: null } }),
  status: () => ({ body: { state: 'awaiting-qr', connected: false, qr: null } }),
  qr: () => ({
    body: { state: 'awaiting-qr', connected: false, qr: '2@stand-in,qr', qrPng: DEFAULT_QR_PNG },
  }),
  // The real host answers with the message's id and where it stands; the edge answers its client from
  // what it queued.
  send: (call) => ({ body: { id: (call.body as { messageId: string }).messageId, status: 'sent' } }),
  read: (call) => ({ body: { read: (call.body as { messageIds?: string[] }).messageIds ?? [] } }),
  presence: (call) => ({ body: { state: (call.body as { state: string }).state } }),
  check: (call) => ({
    body: {
      results: (call.body as { jids: string[] }).jids.map((jid) => ({ jid, exists: true, found: jid })),
    },
  }),
  // Downloading a file needs a real host; a test that wants one answers `media` itself.
  media: () => ({
    status: 422,
    body: { success: false, error: 'stand-in', code: 'MEDIA_URL_UNREACHABLE' },
  }),
  'pairing-code': () => ({ body: { code: 'ABCD-EFGH' } }),
  logout: () => ({ body: { state: 'logged-out', connected: false, qr: null } }),
};

export interface StandInHost {
  id: string;
  url: string;
  calls: HostCallRecord[];
  /** Every TCP connection accepted since the start (or `reset()`). */
  connections: ConnectionRecord[];
  /** Tokens the stand-in refused, with the reason. */
  refused: string[];
  /** Replaces the answer for one action until `reset()`. */
  answer(action: HostSessionAction, answer: Answer): void;
  /** Replaces the answer for the next call of `action` only. */
  answerOnce(action: HostSessionAction, answer: Answer): void;
  reset(): void;
  close(): Promise<void>;
}

/**
 * Starts a stand-in host on a free local port. `keepAliveTimeoutMs` sets its server's keep-alive timeout
 * (default Node's).
 */
export async function startStandInHost(options: {
  id: string;
  secret: string;
  keepAliveTimeoutMs?: number;
}): Promise<StandInHost> {
  const calls: HostCallRecord[] = [];
  const connections: ConnectionRecord[] = [];
  const connectionIds = new WeakMap<object, number>();
  let connectionCount = 0;
  const refused: string[] = [];
  let answers: Partial<Record<HostSessionAction, Answer>> = {};
  const verified = new VerifiedTokens();

  const app = new Hono<{ Bindings: HttpBindings }>();
  app.on(['GET', 'POST'], '/internal/sessions/:id/:action', async (c) => {
    const action = c.req.param('action') as HostSessionAction;
    const token = /^Bearer (.+)$/.exec(c.req.header('authorization') ?? '')?.[1] ?? '';
    let claims: HostTokenClaims;
    try {
      claims = await verifyHostToken(token, { secret: options.secret, hostId: options.id, verified });
      if (claims.sessionId !== c.req.param('id')) throw new Error('subject is not the path session');
    } catch (err) {
      refused.push(err instanceof Error ? err.message : String(err));
      return c.json({ success: false, error: 'Token internal tidak valid', code: 'INVALID_HOST_TOKEN' }, 401);
    }
    const { iat = 0, exp = 0 } = decodeJwt(token);
    const text = await c.req.text();
    const record: HostCallRecord = {
      action,
      pathSessionId: c.req.param('id'),
      claims,
      issuedAt: iat,
      expiresAt: exp,
      body: text ? JSON.parse(text) : undefined,
      connection: connectionIds.get(c.env.incoming.socket) ?? -1,
    };
    calls.push(record);
    const reply = await (answers[action] ?? DEFAULTS[action])(record);
    if (reply.delayMs) await new Promise((resolve) => setTimeout(resolve, reply.delayMs));
    if (reply.reset) {
      const socket = c.env.incoming.socket;
      await new Promise((resolve) => socket.destroy().once('close', resolve));
      return new Response(null);
    }
    const status = reply.status ?? 200;
    if (reply.stall) {
      const body = new ReadableStream({ start: (c) => c.enqueue(new TextEncoder().encode('{"state":')) });
      return new Response(body, { status, headers: { 'content-type': 'application/json' } });
    }
    if (reply.text !== undefined) return new Response(reply.text, { status, headers: reply.headers });
    return new Response(JSON.stringify(reply.body), {
      status,
      headers: { 'content-type': 'application/json', ...reply.headers },
    });
  });

  const server = createAdaptorServer({
    fetch: app.fetch,
    serverOptions: { keepAliveTimeout: options.keepAliveTimeoutMs },
  });
  server.on('connection', (socket) => {
    connectionIds.set(socket, connectionCount++);
    const record: ConnectionRecord = { openedAt: performance.now() };
    connections.push(record);
    socket.once('end', () => {
      record.endedByClientAt = performance.now();
    });
    socket.once('close', () => {
      record.closedAt = performance.now();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const { port } = server.address() as AddressInfo;
  return {
    id: options.id,
    url: `http://127.0.0.1:${port}`,
    calls,
    connections,
    refused,
    answer(action, answer) {
      answers[action] = answer;
    },
    answerOnce(action, answer) {
      const before = answers[action];
      answers[action] = (call) => {
        answers[action] = before;
        return answer(call);
      };
    },
    reset() {
      answers = {};
      calls.length = 0;
      connections.length = 0;
      refused.length = 0;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        if ('closeAllConnections' in server) server.closeAllConnections();
      }),
  };
}

/** A local URL nothing listens on. */
export async function closedPortUrl(): Promise<string> {
  const server = createAdaptorServer({ fetch: () => new Response(null) });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return `http://127.0.0.1:${port}`;
}

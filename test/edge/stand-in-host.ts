// STAND-IN for a session host, for the edge's own tests only. It is NOT node-runtime/host: it runs no
// session actor and no Baileys, it only checks the edge's JWT with the real verifyHostToken and answers
// canned bodies in the shape of the host API (shared/host-api.ts). The full flow against the real host
// and the WhatsApp simulator lives in test/e2e/.
import type { AddressInfo } from 'node:net';
import { createAdaptorServer } from '@hono/node-server';
import { Hono } from 'hono';
import { decodeJwt } from 'jose';
import type { HostSessionAction } from '../../shared/host-api.js';
import { type HostTokenClaims, SeenJtiCache, verifyHostToken } from '../../shared/jwt.js';

export interface HostCallRecord {
  action: HostSessionAction;
  /** The session id in the path. */
  pathSessionId: string;
  claims: HostTokenClaims;
  /** iat and exp as signed. */
  issuedAt: number;
  expiresAt: number;
  body: unknown;
}

export interface CannedReply {
  status?: number;
  body?: unknown;
  /** Raw text instead of JSON. */
  text?: string;
  /** Wait this long before answering. */
  delayMs?: number;
  headers?: Record<string, string>;
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
  send: (call) => {
    const { to, message } = call.body as { to: string; message: string };
    return {
      body: {
        key: { remoteJid: to, id: '3EB0STANDIN', fromMe: true },
        message: { extendedTextMessage: { text: message } },
      },
    };
  },
  logout: () => ({ body: { state: 'logged-out', connected: false, qr: null } }),
};

export interface StandInHost {
  id: string;
  url: string;
  calls: HostCallRecord[];
  /** Tokens the stand-in refused, with the reason. */
  refused: string[];
  /** Replaces the answer for one action until `reset()`. */
  answer(action: HostSessionAction, answer: Answer): void;
  reset(): void;
  close(): Promise<void>;
}

/** Starts a stand-in host on a free local port. */
export async function startStandInHost(options: { id: string; secret: string }): Promise<StandInHost> {
  const calls: HostCallRecord[] = [];
  const refused: string[] = [];
  let answers: Partial<Record<HostSessionAction, Answer>> = {};
  const seen = new SeenJtiCache();

  const app = new Hono();
  app.on(['GET', 'POST'], '/internal/sessions/:id/:action', async (c) => {
    const action = c.req.param('action') as HostSessionAction;
    const token = /^Bearer (.+)$/.exec(c.req.header('authorization') ?? '')?.[1] ?? '';
    let claims: HostTokenClaims;
    try {
      claims = await verifyHostToken(token, { secret: options.secret, hostId: options.id, seenJtis: seen });
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
    };
    calls.push(record);
    const reply = await (answers[action] ?? DEFAULTS[action])(record);
    if (reply.delayMs) await new Promise((resolve) => setTimeout(resolve, reply.delayMs));
    const status = reply.status ?? 200;
    if (reply.text !== undefined) return new Response(reply.text, { status, headers: reply.headers });
    return new Response(JSON.stringify(reply.body), {
      status,
      headers: { 'content-type': 'application/json', ...reply.headers },
    });
  });

  const server = createAdaptorServer({ fetch: app.fetch });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const { port } = server.address() as AddressInfo;
  return {
    id: options.id,
    url: `http://127.0.0.1:${port}`,
    calls,
    refused,
    answer(action, answer) {
      answers[action] = answer;
    },
    reset() {
      answers = {};
      calls.length = 0;
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

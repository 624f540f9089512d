import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { WebSocketServer } from 'ws';
import type { KeyPair } from './certificates.js';
import { MAX_FRAME } from './connection.js';
import { issueServerCertificate, newMediaCa } from './media-tls.js';
import { type Outcome, Simulator } from './simulator.js';

/** Control-API bodies: room for a contact's file in base64. */
const MAX_BODY = 48 * 1024 * 1024;

export type SimServer = {
  sim: Simulator;
  /** Base URL of the control API, e.g. http://127.0.0.1:3100 */
  url: string;
  /** What Baileys' `waWebSocketUrl` should be. */
  wsUrl: string;
  /** Hex root public key: what Baileys' `WA_CERT_DETAILS.PUBLIC_KEY` should be. */
  trustRoot: string;
  /** Base URL of the HTTPS media server, e.g. https://127.0.0.1:3101 */
  mediaUrl: string;
  /** PEM of the CA that issued the media server's certificate: what a gateway's WA_MEDIA_CA should be. */
  mediaCa: string;
  close(): Promise<void>;
};

const readJson = (req: IncomingMessage) =>
  new Promise<Record<string, unknown> | undefined>((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY) {
        resolve(undefined);
        req.destroy();
      } else chunks.push(c);
    });
    req.on('end', () => {
      try {
        const parsed: unknown = chunks.length ? JSON.parse(Buffer.concat(chunks).toString('utf8')) : {};
        resolve(
          parsed && typeof parsed === 'object' && !Array.isArray(parsed)
            ? (parsed as Record<string, unknown>)
            : undefined,
        );
      } catch {
        resolve(undefined);
      }
    });
  });

const send = (res: ServerResponse, { status, body }: Outcome) => {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
};

/** Routes the control API (fixed paths; see DESIGN.md "The WhatsApp network simulator"). */
const route = async (server: SimServer, req: IncomingMessage): Promise<Outcome> => {
  const { sim } = server;
  const path = new URL(req.url ?? '/', 'http://sim').pathname;
  const method = req.method ?? 'GET';
  if (method === 'GET' && path === '/sim/health') {
    const mem = process.memoryUsage();
    return {
      status: 200,
      body: {
        ok: true,
        wsUrl: server.wsUrl,
        trustRoot: server.trustRoot,
        mediaUrl: server.mediaUrl,
        mediaCa: server.mediaCa,
        connections: sim.connectionCount,
        accounts: sim.world.accountCount,
        trouble: sim.troubleCount(),
        memory: {
          rss: mem.rss,
          heapUsed: mem.heapUsed,
          external: mem.external,
          arrayBuffers: mem.arrayBuffers,
        },
      },
    };
  }
  const contact = /^\/sim\/contacts\/([^/]+)\/(messages|read|played|chatstates|sent)$/.exec(path);
  const account = /^\/sim\/accounts\/([^/]+)(\/unlink)?$/.exec(path);
  const known =
    path === '/sim/scan' || path === '/sim/pair-code' || path === '/sim/faults' || contact || account;
  if (!known) return { status: 404, body: { error: 'not found' } };
  if (method === 'GET' && contact?.[1] && contact[2] === 'messages') return sim.received(contact[1]);
  if (method === 'GET' && contact?.[1] && contact[2] === 'chatstates') return sim.shownChatstates(contact[1]);
  if (method === 'GET' && contact?.[1] && contact[2] === 'sent') return sim.sentBy(contact[1]);
  if (method === 'GET' && account?.[1] && !account[2]) return sim.accountInfo(account[1]);
  if (method === 'PUT' && account?.[1] && !account[2]) {
    const body = await readJson(req);
    if (!body) return { status: 400, body: { error: 'body must be a JSON object' } };
    return sim.register(account[1], body.name);
  }
  if (
    method !== 'POST' ||
    (account && !account[2]) ||
    contact?.[2] === 'chatstates' ||
    contact?.[2] === 'sent'
  )
    return { status: 405, body: { error: 'method not allowed' } };
  if (account?.[1]) return sim.unlink(account[1]);
  const body = await readJson(req);
  if (!body) return { status: 400, body: { error: 'body must be a JSON object' } };
  if (path === '/sim/scan') return sim.scan(body.qr, body.phone, body.name);
  if (path === '/sim/pair-code') return sim.enterPairingCode(body.phone, body.code, body.name);
  if (path === '/sim/faults') return sim.fault(body.kind, body.phone, body.ms);
  const [, phone = '', action] = contact ?? [];
  if (action === 'read' || action === 'played') return sim.contactReceipt(phone, action, body);
  return sim.contactSends(phone, body);
};

/**
 * Starts the simulator: WebSocket endpoint for Baileys and the control API on one HTTP port. With
 * `dataDir`, the world (accounts, phones, linked devices, offline queues, inboxes) is loaded from that
 * directory and saved there; without it, the world lives in memory only.
 */
export const startSimulator = async (
  opts: { port?: number; host?: string; root?: KeyPair; dataDir?: string } = {},
): Promise<SimServer> => {
  const sim = new Simulator({ root: opts.root, dataDir: opts.dataDir });
  const http = createServer();
  const wss = new WebSocketServer({ noServer: true, maxPayload: MAX_FRAME + 16 });
  http.on('upgrade', (req, socket, head) => {
    socket.on('error', () => socket.destroy());
    wss.handleUpgrade(req, socket, head, (ws) => sim.accept(ws));
  });
  await new Promise<void>((resolve, reject) => {
    http.once('error', reject);
    http.listen(opts.port ?? 0, opts.host ?? '127.0.0.1', resolve);
  }).catch(async (err: unknown) => {
    await sim.close();
    throw err;
  });
  const { port } = http.address() as AddressInfo;
  const host = opts.host ?? '127.0.0.1';
  // The media servers (WhatsApp's mmg hosts): HTTPS with a certificate from the simulator's own CA, on a
  // port of their own, as `media_conn` names them.
  if (!sim.mediaCa) {
    sim.mediaCa = await newMediaCa();
    sim.world.changed();
  }
  const mediaCa = sim.mediaCa;
  const media = createHttpsServer(await issueServerCertificate(mediaCa, host));
  await new Promise<void>((resolve) => media.listen(0, host, resolve));
  sim.mediaHost = `${host}:${(media.address() as AddressInfo).port}`;
  const mediaUrl = `https://${sim.mediaHost}`;
  media.on('request', (req, res) => {
    sim.media.handle(req, res, mediaUrl).catch(() => {
      if (!res.headersSent) res.writeHead(500);
      res.end();
    });
  });
  const server: SimServer = {
    sim,
    url: `http://${host}:${port}`,
    wsUrl: `ws://${host}:${port}/ws/chat`,
    trustRoot: sim.trustRoot,
    mediaUrl,
    mediaCa: mediaCa.cert,
    close: async () => {
      const saved = sim.close();
      wss.close();
      http.closeAllConnections();
      media.closeAllConnections();
      await new Promise<void>((resolve) => http.close(() => resolve()));
      await new Promise<void>((resolve) => media.close(() => resolve()));
      await saved;
    },
  };
  http.on('request', (req, res) => {
    route(server, req).then(
      (outcome) => send(res, outcome),
      () => send(res, { status: 500, body: { error: 'internal error' } }),
    );
  });
  return server;
};

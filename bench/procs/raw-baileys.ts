// The baseline: raw Baileys sockets with in-memory auth state, in a process of their own, driven by the
// bench over IPC. Environment: WA_WS_URL, WA_SIM_URL, WA_TRUST_ROOT (the simulator's); with RAW_AUTH_DIR,
// Baileys' own file auth state there instead (useMultiFileAuthState, what the seed and most gateways run).
// Commands: link (pair sockets by QR through the simulator, with timings), resume (open sockets from the
// auth state saved in RAW_AUTH_DIR by an earlier process), send, serve (the seed's `POST /api/send` over
// HTTP), inbound-start and inbound-wait (the text messages the sockets received, with the time of each),
// close. Memory is answered by bench/procs/probe.ts, preloaded.
import { createServer } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import {
  type AuthenticationState,
  Browsers,
  useMultiFileAuthState,
  type WASocket,
} from '@whiskeysockets/baileys';
import { connect, memoryAuthState, nextUpdate, trustSimulator } from '../../test/wa-sim/baileys-client.js';
import {
  benchImage,
  type LinkTiming,
  type RawCommand,
  type RawInbound,
  type RawResume,
  type RawSendResult,
  type SendJob,
} from '../lib/raw.js';
import { pool } from '../lib/stats.js';

const { WA_WS_URL, WA_SIM_URL, WA_TRUST_ROOT, RAW_AUTH_DIR } = process.env;
if (!WA_WS_URL || !WA_SIM_URL || !WA_TRUST_ROOT || !process.send) {
  process.stderr.write('raw-baileys: needs WA_WS_URL, WA_SIM_URL, WA_TRUST_ROOT and an IPC channel\n');
  process.exit(2);
}
trustSimulator(WA_TRUST_ROOT);
// The probe unrefs the channel; this process lives on commands.
process.channel?.ref();

// The same socket options as the session host's (node-runtime/wa/socket-actor.ts).
const socketConfig = {
  browser: Browsers.ubuntu('Chrome'),
  markOnlineOnConnect: false,
  generateHighQualityLinkPreview: false,
  // Uploads to the simulator's media server, whose CA the host trusts the same way (WA_MEDIA_CA).
  ...(process.env.WA_MEDIA_CA
    ? { fetchAgent: new HttpsAgent({ ca: process.env.WA_MEDIA_CA, keepAlive: true }) }
    : {}),
};

/** The image a job sends: the same bytes every time (what the bench's own side sends too). */
const images = new Map<number, Buffer>();
const imageOf = (bytes: number) => {
  let image = images.get(bytes);
  if (!image) {
    image = benchImage(bytes);
    images.set(bytes, image);
  }
  return image;
};
const sockets: WASocket[] = [];
const now = () => performance.timeOrigin + performance.now();

// What an app sees of incoming messages: `messages.upsert` (notify) with a text, recorded with its time.
let arrivals: [string, number][] = [];
let waiting: { count: number; done: () => void } | undefined;

function recordInbound(sock: WASocket) {
  sock.ev.on('messages.upsert', ({ messages, type }) => {
    if (type !== 'notify') return;
    const at = now();
    for (const m of messages) {
      const text = m.message?.conversation ?? m.message?.extendedTextMessage?.text;
      if (m.key.fromMe || !m.key.id || typeof text !== 'string') continue;
      arrivals.push([m.key.id, at]);
    }
    if (waiting && arrivals.length >= waiting.count) waiting.done();
  });
}

function inboundWait(count: number, timeoutMs: number): Promise<RawInbound> {
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      waiting = undefined;
      resolve({ arrivals, complete: arrivals.length >= count });
    };
    const timer = setTimeout(done, timeoutMs);
    waiting = { count, done };
    if (arrivals.length >= count) done();
  });
}

/** An account's auth state: in memory, or in its own folder of files saved on every creds change. */
async function authFor(phone: string): Promise<{ auth: AuthenticationState; save: () => Promise<void> }> {
  if (!RAW_AUTH_DIR) return { auth: memoryAuthState(), save: async () => {} };
  const { state, saveCreds } = await useMultiFileAuthState(join(RAW_AUTH_DIR, phone));
  return { auth: state, save: saveCreds };
}

async function linkOne(phone: string, name: string): Promise<LinkTiming> {
  const { auth, save } = await authFor(phone);
  const created = now();
  const first = connect(WA_WS_URL as string, auth, socketConfig);
  first.ev.on('creds.update', save);
  const { qr } = await nextUpdate(first, (u) => !!u.qr, 120_000);
  const qrAt = now();
  const restarted = nextUpdate(first, (u) => u.connection === 'close', 120_000);
  const scannedAt = now();
  const res = await fetch(`${WA_SIM_URL}/sim/scan`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ qr, phone, name }),
  });
  if (res.status !== 200) throw new Error(`scan failed: ${res.status} ${await res.text()}`);
  await restarted;
  // After pairing the server ends the stream with 515; the client reconnects with its new creds.
  const sock = connect(WA_WS_URL as string, auth, socketConfig);
  sock.ev.on('creds.update', save);
  await nextUpdate(sock, (u) => u.connection === 'open', 120_000);
  const openAt = now();
  recordInbound(sock);
  sockets.push(sock);
  return { createToQrMs: qrAt - created, scanToConnectedMs: openAt - scannedAt };
}

/**
 * Opens a socket for each account from the auth state it saved (after this process was started again
 * on the same RAW_AUTH_DIR): when each was open, epoch ms, in `phones` order (NaN for one that did not
 * open), and what happened to those that did not.
 */
async function resume(phones: string[], concurrency: number): Promise<RawResume> {
  const openAt = new Array<number>(phones.length).fill(Number.NaN);
  const failures: string[] = [];
  await pool(phones, concurrency, async (phone, i) => {
    const { auth, save } = await authFor(phone);
    const sock = connect(WA_WS_URL as string, auth, socketConfig);
    sock.ev.on('creds.update', save);
    const update = await nextUpdate(
      sock,
      (u) => u.connection === 'open' || u.connection === 'close' || !!u.qr,
      60_000,
    ).catch(() => undefined);
    if (update?.connection === 'open') {
      openAt[i] = now();
      recordInbound(sock);
      sockets[i] = sock;
      return;
    }
    const code = (update?.lastDisconnect?.error as { output?: { statusCode?: number } } | undefined)?.output
      ?.statusCode;
    failures.push(
      `${phone}: ${update?.qr ? 'asked for a new QR (its saved credentials were unusable)' : update ? `closed (${code})` : 'no answer in 60 s'}`,
    );
    sock.end(undefined);
  });
  return { openAt, failures };
}

function link(phones: string[], concurrency: number): Promise<LinkTiming[]> {
  return pool(phones, concurrency, (phone) => linkOne(phone, `Raw ${phone}`));
}

async function send(jobs: SendJob[], inflight: number, check: boolean): Promise<RawSendResult> {
  const startedAt = now();
  const ids: string[] = [];
  let failed = 0;
  let lastAcceptedAt = startedAt;
  const acceptedBy: Record<string, number> = {};
  await Promise.all(
    jobs.flatMap((job) => {
      const sock = sockets[job.socket];
      if (!sock) throw new Error(`no socket ${job.socket}`);
      let next = 0;
      const worker = async () => {
        for (;;) {
          const text = job.texts[next++];
          if (text === undefined) return;
          try {
            if (check) {
              // What the session host does before every send (node-runtime/wa/socket-actor.ts).
              const [found] = (await sock.onWhatsApp(job.to)) ?? [];
              if (!found?.exists) throw new Error('not on WhatsApp');
            }
            const msg = await sock.sendMessage(
              job.to,
              job.imageBytes
                ? { image: imageOf(job.imageBytes), mimetype: 'image/jpeg', caption: text }
                : { text },
            );
            if (msg?.key.id) {
              ids.push(msg.key.id);
              const phone = job.to.split('@')[0] ?? job.to;
              acceptedBy[phone] = (acceptedBy[phone] ?? 0) + 1;
              lastAcceptedAt = now();
            } else failed++;
          } catch {
            failed++;
          }
        }
      };
      return Array.from({ length: Math.min(inflight, job.texts.length) }, worker);
    }),
  );
  return { startedAt, lastAcceptedAt, accepted: ids.length, failed, ids, acceptedBy };
}

/**
 * A gateway as small as the seed (its README's `POST /api/send`): Express and Baileys on file auth, no
 * store, no tenancy, answered once `sendMessage` resolves. Here node:http stands in for Express, and
 * `x-api-key` is the socket's index.
 */
function serve(): Promise<string> {
  const server = createServer((req, res) => {
    const answer = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    const sock = sockets[Number(req.headers['x-api-key'])];
    if (req.method !== 'POST' || req.url !== '/api/send' || !sock) {
      req.resume();
      answer(404, { success: false, error: 'not found' });
      return;
    }
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const handle = async () => {
        const { to, message } = JSON.parse(Buffer.concat(chunks).toString('utf8')) as {
          to?: string;
          message?: string;
        };
        if (!to || !message) return answer(400, { success: false, error: 'to and message are required' });
        const result = await sock.sendMessage(`${to}@s.whatsapp.net`, { text: message });
        answer(200, { success: true, result });
      };
      handle().catch((err: unknown) => answer(500, { success: false, error: String(err) }));
    });
  });
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () =>
      resolve(`http://127.0.0.1:${(server.address() as AddressInfo).port}`),
    );
  });
}

process.on('message', (message: unknown) => {
  const m = message as RawCommand & { type?: string; id: number };
  if (m.type !== 'raw') return;
  const run = async (): Promise<unknown> => {
    switch (m.command) {
      case 'link':
        return link(m.phones, m.concurrency);
      case 'resume':
        return resume(m.phones, m.concurrency);
      case 'send':
        return send(m.jobs, m.inflight, m.check ?? false);
      case 'serve':
        return serve();
      case 'inbound-start':
        arrivals = [];
        return null;
      case 'inbound-wait':
        return inboundWait(m.count, m.timeoutMs);
      case 'close':
        for (const s of sockets) s.end(undefined);
        sockets.length = 0;
        setTimeout(() => process.exit(0), 50);
        return null;
    }
  };
  run().then(
    (value) => process.send?.({ type: 'raw:result', id: m.id, ok: true, value }),
    (err: unknown) =>
      process.send?.({
        type: 'raw:result',
        id: m.id,
        ok: false,
        error: String((err as Error)?.stack ?? err),
      }),
  );
});
process.send({ type: 'raw:ready' });

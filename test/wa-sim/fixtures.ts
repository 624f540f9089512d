import type {
  AuthenticationCreds,
  AuthenticationState,
  BinaryNode,
  UserFacingSocketConfig,
  WASocket,
} from '@whiskeysockets/baileys';
import { closeCode, connect, memoryAuthState, nextUpdate, trustSimulator } from './baileys-client.js';
import { type SimServer, startSimulator } from './server.js';

/** Starts a simulator on a free port and trusts its root in this process. */
export const startTestSimulator = async (): Promise<SimServer> => {
  const server = await startSimulator();
  trustSimulator(server.trustRoot);
  return server;
};

/** Where a simulator listens: in this process (SimServer) or in a child process (SimProcess). */
export type SimAddress = Pick<SimServer, 'url' | 'wsUrl'>;

/** Calls the control API over HTTP, as any client would. */
export const control = async (server: SimAddress, method: string, path: string, body?: unknown) => {
  const res = await fetch(`${server.url}${path}`, {
    method,
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> & unknown[] };
};

export type Linked = { sock: WASocket; auth: AuthenticationState & { creds: AuthenticationCreds } };

/** Links a fresh Baileys device to `phone` by QR through the control API, and logs it in. */
export const linkDevice = async (
  server: SimAddress,
  phone: string,
  name = `User ${phone}`,
  config: Partial<UserFacingSocketConfig> = {},
): Promise<Linked> => {
  const auth = memoryAuthState();
  const first = connect(server.wsUrl, auth, config);
  const { qr } = await nextUpdate(first, (u) => !!u.qr);
  const restarted = nextUpdate(first, (u) => u.connection === 'close');
  const scan = await control(server, 'POST', '/sim/scan', { qr, phone, name });
  if (scan.status !== 200) throw new Error(`scan failed: ${JSON.stringify(scan.body)}`);
  const code = closeCode(await restarted);
  if (code !== 515) throw new Error(`expected 515 after pairing, got ${code}`);
  const sock = connect(server.wsUrl, auth, config);
  await nextUpdate(sock, (u) => u.connection === 'open');
  return { sock, auth };
};

/** Polls until `check` returns a value, for effects that cross the simulator asynchronously. */
export const eventually = async <T>(
  check: () => Promise<T | undefined> | T | undefined,
  timeoutMs = 10_000,
) => {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > until) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 25));
  }
};

/** Ends a socket without logging out and waits for it to be closed. */
export const endSocket = async (sock: WASocket) => {
  sock.end(undefined);
  await new Promise((r) => setTimeout(r, 10));
};

/** One status a message reached on a socket, in the order Baileys reported them. */
export type StatusReport = { id: string; remoteJid: string; fromMe: boolean; status: number };

/**
 * Every message status a socket reports: `messages.update`, and the status folded into an upsert of
 * a message still buffered (Baileys merges a receipt into it). In arrival order.
 */
export const statusReports = (sock: WASocket) => {
  const seen: StatusReport[] = [];
  const add = (
    key: { id?: string | null; remoteJid?: string | null; fromMe?: boolean | null },
    status: unknown,
  ) => {
    if (key.id && typeof status === 'number') {
      seen.push({ id: key.id, remoteJid: key.remoteJid ?? '', fromMe: !!key.fromMe, status });
    }
  };
  sock.ev.on('messages.update', (list) => {
    for (const u of list) add(u.key, u.update.status);
  });
  sock.ev.on('messages.upsert', ({ messages }) => {
    for (const m of messages) if (m.key) add(m.key, m.status);
  });
  return seen;
};

/** Every stanza with tag `tag` a Baileys socket received, as Baileys decoded it, in order. */
export const rawStanzas = (sock: WASocket, tag: string) => {
  const seen: BinaryNode[] = [];
  sock.ws.on(`CB:${tag}`, (node: BinaryNode) => seen.push(node));
  return seen;
};

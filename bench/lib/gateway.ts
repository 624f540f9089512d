// The gateway's HTTP API as a customer's backend calls it, plus the simulated phone's scan.
import { Agent, type Dispatcher, request } from 'undici';
import { readQr } from '../../test/wa-sim/qr-image.js';
import { sleep } from './stats.js';

// biome-ignore lint/suspicious/noExplicitAny: JSON bodies, read loosely
type Json = any;

const now = () => performance.timeOrigin + performance.now();

// undici's own request, not WHATWG fetch: the load generator shares the machine's two cores with the
// stack it measures, and fetch's layer costs it several times the CPU per request.
const client = new Agent({ connections: 256 });

export async function api(
  base: string,
  method: string,
  path: string,
  opts: { key?: string; body?: unknown; headers?: Record<string, string> } = {},
): Promise<{ status: number; body: Json }> {
  const res = await request(`${base}${path}`, {
    dispatcher: client,
    method: method as Dispatcher.HttpMethod,
    headers: {
      ...(opts.key ? { 'x-api-key': opts.key } : {}),
      ...(opts.body === undefined ? {} : { 'content-type': 'application/json' }),
      ...opts.headers,
    },
    body: opts.body === undefined ? undefined : JSON.stringify(opts.body),
  });
  const text = await res.body.text();
  return { status: res.statusCode, body: text ? JSON.parse(text) : undefined };
}

export async function simCall(simUrl: string, method: string, path: string, body?: unknown) {
  const res = await fetch(`${simUrl}${path}`, {
    method,
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as Json };
}

/**
 * Registers the jobs' contacts with the simulator before they are written to, untimed: a contact's account and
 * keys exist on WhatsApp long before anyone writes to it, while the simulator, left to itself, makes them
 * on first use, inside whichever run touches the number first.
 */
export async function registerContacts(simUrl: string, jobs: readonly { contact: string }[]): Promise<void> {
  for (const { contact } of jobs) {
    const { status } = await simCall(simUrl, 'PUT', `/sim/accounts/${contact}`);
    if (status !== 200 && status !== 201)
      throw new Error(`registering ${contact} with the simulator: ${status}`);
  }
}

export interface LinkedSession {
  name: string;
  key: string;
  phone: string;
  /** Absent when `timed` was false. */
  createToQrMs?: number;
  scanToConnectedMs?: number;
}

export interface LinkOptions {
  /**
   * Measure precisely: decode the QR image here (not in the simulator) before the scan clock starts, and
   * poll the status every 10 ms. Otherwise the simulator decodes the image and the status is polled
   * every 100 ms, which is gentler on a machine linking hundreds of sessions.
   */
  timed?: boolean;
  timeoutMs?: number;
}

/**
 * Creates a session through the API and links it: GET /api/session/qr (the host waits for the QR),
 * the phone `phone` scans it, then GET /api/session/status until connected.
 */
export async function linkSession(
  edgeUrl: string,
  simUrl: string,
  adminKey: string,
  name: string,
  phone: string,
  opts: LinkOptions = {},
): Promise<LinkedSession> {
  const timeoutMs = opts.timeoutMs ?? 120_000;
  const deadline = Date.now() + timeoutMs;
  const t0 = now();
  const created = await api(edgeUrl, 'POST', '/api/session/create', {
    key: adminKey,
    body: { sessionId: name, description: 'bench' },
  });
  if (created.status !== 200)
    throw new Error(`create ${name}: ${created.status} ${JSON.stringify(created.body)}`);
  const key = created.body.apiKey as string;
  let qr: string | undefined;
  while (!qr) {
    const res = await api(edgeUrl, 'GET', '/api/session/qr', { key });
    if (res.status === 200 && res.body.qr) qr = res.body.qr as string;
    else if (Date.now() > deadline) throw new Error(`qr ${name}: ${res.status} ${JSON.stringify(res.body)}`);
    else await sleep(opts.timed ? 5 : 50);
  }
  const qrAt = now();
  const scanned = opts.timed ? readQr(qr) : qr;
  const scannedAt = now();
  const scan = await simCall(simUrl, 'POST', '/sim/scan', { qr: scanned, phone, name: `Bench ${phone}` });
  if (scan.status !== 200) throw new Error(`scan ${name}: ${scan.status} ${JSON.stringify(scan.body)}`);
  await untilConnected(edgeUrl, key, name, deadline, opts.timed ? 10 : 100);
  const connectedAt = now();
  return {
    name,
    key,
    phone,
    ...(opts.timed ? { createToQrMs: qrAt - t0, scanToConnectedMs: connectedAt - scannedAt } : {}),
  };
}

/** Polls GET /api/session/status with `key` until the session is connected (an error past `deadline`). */
export async function untilConnected(
  edgeUrl: string,
  key: string,
  name: string,
  deadline = Date.now() + 120_000,
  everyMs = 100,
): Promise<void> {
  for (;;) {
    const res = await api(edgeUrl, 'GET', '/api/session/status', { key });
    if (res.status === 200 && res.body.connected === true) return;
    if (Date.now() > deadline)
      throw new Error(`status ${name}: never connected (${res.status} ${JSON.stringify(res.body)})`);
    await sleep(everyMs);
  }
}

/** What a simulated contact received and decrypted. */
export async function inbox(
  simUrl: string,
  phone: string,
): Promise<{ id: string; text: string; at: string }[]> {
  return (await simCall(simUrl, 'GET', `/sim/contacts/${phone}/messages`)).body;
}

/**
 * Waits until every contact in `expected` (phone -> count) has received that many messages, or the time
 * is up. `lastAt` is when the last message seen was decrypted (epoch ms, the simulator's clock, which is
 * this machine's); 0 when none arrived.
 */
export async function awaitDelivery(
  simUrl: string,
  expected: Map<string, number>,
  timeoutMs: number,
): Promise<{ lastAt: number; delivered: number; complete: boolean }> {
  const deadline = Date.now() + timeoutMs;
  const pending = new Map(expected);
  const got = new Map<string, number>();
  let lastAt = 0;
  for (;;) {
    for (const [phone, count] of [...pending]) {
      const messages = await inbox(simUrl, phone);
      got.set(phone, messages.length);
      for (const m of messages) lastAt = Math.max(lastAt, Date.parse(m.at));
      if (messages.length >= count) pending.delete(phone);
    }
    if (pending.size === 0 || Date.now() > deadline) break;
    await sleep(100);
  }
  const delivered = [...got.values()].reduce((a, b) => a + b, 0);
  return { lastAt, delivered, complete: pending.size === 0 };
}

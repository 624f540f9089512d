import { DEFAULT_CONNECTION_CONFIG } from '@whiskeysockets/baileys';
import WebSocket from 'ws';

export type WhatsAppReachability =
  | { status: 'unknown' }
  | { status: 'reachable'; checkedAt: Date }
  | { status: 'unreachable'; error: string; checkedAt: Date };

/** How often a host checks that it can reach WhatsApp, and how long one check may take. */
export const PROBE_INTERVAL_MS = 30_000;
const PROBE_TIMEOUT_MS = 10_000;

/**
 * One check: can a WebSocket to WhatsApp (or the simulator) be opened? The same DNS, TCP, TLS and
 * upgrade a session's socket goes through; closed right after, before any protocol is spoken.
 */
export function checkWhatsApp(url: string, timeoutMs = PROBE_TIMEOUT_MS): Promise<WhatsAppReachability> {
  return new Promise((resolve) => {
    const ws = new WebSocket(url, { origin: 'https://web.whatsapp.com', handshakeTimeout: timeoutMs });
    const done = (result: WhatsAppReachability) => {
      ws.removeAllListeners();
      ws.on('error', () => {}); // a late error from the socket we are dropping
      ws.terminate();
      resolve(result);
    };
    ws.once('open', () => done({ status: 'reachable', checkedAt: new Date() }));
    ws.once('unexpected-response', (_req, res) =>
      done({
        status: 'unreachable',
        error: `WebSocket upgrade refused (HTTP ${res.statusCode})`,
        checkedAt: new Date(),
      }),
    );
    ws.once('error', (err) => done({ status: 'unreachable', error: describe(err), checkedAt: new Date() }));
  });
}

const describe = (err: Error) => {
  const code = (err as NodeJS.ErrnoException).code;
  return code && !err.message.includes(code) ? `${code}: ${err.message}` : err.message;
};

/**
 * Checks WhatsApp now and every `intervalMs`, calling `onChange` when the answer changes (reachable or
 * not, or a different error), so the host's row says what its sessions would meet.
 */
export function watchWhatsApp(options: {
  url?: string;
  intervalMs?: number;
  onChange: (reachability: WhatsAppReachability) => void;
}) {
  const url = options.url ?? String(DEFAULT_CONNECTION_CONFIG.waWebSocketUrl);
  let current: WhatsAppReachability = { status: 'unknown' };
  let stopped = false;
  const check = async () => {
    const next = await checkWhatsApp(url);
    if (stopped) return;
    const changed =
      next.status !== current.status ||
      (next.status === 'unreachable' && current.status === 'unreachable' && next.error !== current.error);
    current = next;
    if (changed) options.onChange(next);
  };
  void check();
  const timer = setInterval(() => void check(), options.intervalMs ?? PROBE_INTERVAL_MS);
  timer.unref();
  return {
    current: () => current,
    stop() {
      stopped = true;
      clearInterval(timer);
    },
  };
}

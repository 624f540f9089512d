import makeWASocket, {
  type AuthenticationCreds,
  type AuthenticationState,
  type ConnectionState,
  initAuthCreds,
  type SignalDataSet,
  type SignalDataTypeMap,
  type UserFacingSocketConfig,
  WA_CERT_DETAILS,
  type WASocket,
} from '@whiskeysockets/baileys';
import { pino } from 'pino';

/** Points every Baileys socket of this process at the simulator's trust root (a process-wide default). */
export const trustSimulator = (trustRoot: string) => {
  WA_CERT_DETAILS.PUBLIC_KEY = Buffer.from(trustRoot, 'hex');
};

/** Baileys auth state in memory: creds plus a plain key store, as the tests need nothing durable. */
export const memoryAuthState = (): AuthenticationState & { creds: AuthenticationCreds } => {
  const creds = initAuthCreds();
  const store = new Map<string, unknown>();
  return {
    creds,
    keys: {
      get: async <T extends keyof SignalDataTypeMap>(type: T, ids: string[]) => {
        const out: { [id: string]: SignalDataTypeMap[T] } = {};
        for (const id of ids) {
          const value = store.get(`${type}:${id}`);
          if (value !== undefined) out[id] = value as SignalDataTypeMap[T];
        }
        return out;
      },
      set: async (data: SignalDataSet) => {
        for (const [type, entries] of Object.entries(data)) {
          for (const [id, value] of Object.entries(entries ?? {})) {
            if (value === null || value === undefined) store.delete(`${type}:${id}`);
            else store.set(`${type}:${id}`, value);
          }
        }
      },
    },
  };
};

/** A real Baileys socket against the simulator; creds updates are applied to `auth.creds`. */
export const connect = (
  wsUrl: string,
  auth: AuthenticationState,
  config: Partial<UserFacingSocketConfig> = {},
): WASocket => {
  const sock = makeWASocket({
    waWebSocketUrl: wsUrl,
    auth,
    logger: pino({ level: process.env.BAILEYS_LOG ?? 'silent' }),
    ...config,
  });
  sock.ev.on('creds.update', (update) => Object.assign(auth.creds, update));
  return sock;
};

/** Resolves with the first connection update that matches. */
export const nextUpdate = (
  sock: WASocket,
  match: (u: Partial<ConnectionState>) => boolean,
  timeoutMs = 30_000,
): Promise<Partial<ConnectionState>> =>
  new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      sock.ev.off('connection.update', listener);
      reject(new Error(`no matching connection.update within ${timeoutMs} ms`));
    }, timeoutMs);
    const listener = (u: Partial<ConnectionState>) => {
      if (!match(u)) return;
      clearTimeout(timer);
      sock.ev.off('connection.update', listener);
      resolve(u);
    };
    sock.ev.on('connection.update', listener);
  });

/** The Boom status code a close update carries. */
export const closeCode = (u: Partial<ConnectionState>) =>
  (u.lastDisconnect?.error as { output?: { statusCode?: number } } | undefined)?.output?.statusCode;

// Calls to the gateway's own API with the signed-in key, in the `x-api-key` header only.

const KEY = 'wa-console-key';
const SESSION_KEYS = 'wa-console-session-keys';

/** An error the API answered (`{success:false, error, code}`), or a network failure. */
export class ApiFailure extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export const storedKey = () => sessionStorage.getItem(KEY);
export const storeKey = (key: string) => sessionStorage.setItem(KEY, key);

/** Signs out: forgets every key this tab kept. */
export const forgetKeys = () => {
  sessionStorage.removeItem(KEY);
  sessionStorage.removeItem(SESSION_KEYS);
};

/** Session keys this tab saw (a session it created, a key it issued), by session name: to link and send. */
export const sessionKeyOf = (session: string): string | undefined =>
  (JSON.parse(sessionStorage.getItem(SESSION_KEYS) ?? '{}') as Record<string, string>)[session];

export const keepSessionKey = (session: string, key: string) => {
  const keys = JSON.parse(sessionStorage.getItem(SESSION_KEYS) ?? '{}') as Record<string, string>;
  keys[session] = key;
  sessionStorage.setItem(SESSION_KEYS, JSON.stringify(keys));
};

/** Called when the signed-in key stops working (revoked, expired). */
let onKeyRefused: (failure: ApiFailure) => void = () => undefined;
export const whenKeyRefused = (handler: (failure: ApiFailure) => void) => {
  onKeyRefused = handler;
};

// biome-ignore lint/suspicious/noExplicitAny: JSON from the API, read by each view
export type Json = any;

/** Calls the API; `key` defaults to the signed-in one. Throws ApiFailure for any non-2xx answer. */
export async function api(
  method: string,
  path: string,
  opts: { body?: unknown; key?: string } = {},
): Promise<Json> {
  const key = opts.key ?? storedKey() ?? '';
  let res: Response;
  try {
    res = await fetch(path, {
      method,
      headers: {
        'x-api-key': key,
        accept: 'application/json',
        ...(opts.body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      body: opts.body === undefined ? undefined : JSON.stringify(opts.body),
      credentials: 'omit',
      cache: 'no-store',
    });
  } catch {
    throw new ApiFailure(0, 'NETWORK', 'The gateway cannot be reached. Check your connection and retry.');
  }
  const body = (await res.json().catch(() => undefined)) as Json;
  if (res.ok) return body;
  const failure = new ApiFailure(
    res.status,
    body?.code ?? 'HTTP_ERROR',
    `${body?.error ?? `HTTP ${res.status}`}${body?.details ? ` (${typeof body.details === 'string' ? body.details : JSON.stringify(body.details)})` : ''}`,
  );
  // The signed-in key itself was refused: not a problem with this one call.
  if (key === storedKey() && (failure.code === 'INVALID_API_KEY' || failure.code === 'MISSING_API_KEY'))
    onKeyRefused(failure);
  throw failure;
}

export type Scope = 'admin' | 'session' | 'operator';

/**
 * What a key may do: asks the one route each kind of key may call. An unknown, revoked or expired key is
 * refused by the first (INVALID_API_KEY); another kind's key, with WRONG_SCOPE.
 */
export async function scopeOf(key: string): Promise<Scope> {
  const probes: [Scope, string][] = [
    ['admin', '/api/admin/sessions?limit=1'],
    ['session', '/api/session/status'],
    ['operator', '/api/operator/hosts'],
  ];
  for (const [scope, path] of probes) {
    try {
      await api('GET', path, { key });
      return scope;
    } catch (err) {
      if (!(err instanceof ApiFailure) || err.code !== 'WRONG_SCOPE') throw err;
    }
  }
  throw new ApiFailure(403, 'WRONG_SCOPE', 'This key cannot use the console.');
}

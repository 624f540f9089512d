// How the edge's calls reach a host: one request, its status, body text and headers. Web-standard
// fetch everywhere; the Node entry passes a lighter one over undici's own client (WHATWG fetch's layers
// of Request, Headers and streams cost more than the rest of a forwarded call).
import { localAnswerText, localRequest } from './local-call.js';

export interface HostHttpRequest {
  url: string;
  method: 'GET' | 'POST';
  headers: Record<string, string>;
  body?: string;
  /** How long the call may take, its answer's body included. */
  timeoutMs: number;
  /** The answer is a file to pass on as it arrives (`stream`); otherwise a short body to `read`. */
  streamed?: boolean;
}

/**
 * Sends one request. It rejects when no answer came (refused, reset, timed out); `read` rejects when the
 * answer's body broke off, so a caller can tell "never answered" from "answered, body lost".
 */
export type HostTransport = (request: HostHttpRequest) => Promise<HostHttpResponse>;

export interface HostHttpResponse {
  status: number;
  read(): Promise<string>;
  /** The body as it arrives (a file), instead of `read`. */
  stream(): ReadableStream<Uint8Array>;
  header(name: string): string | null;
}

/** A transport over a fetch function (Workers, Deno, tests). */
export function fetchTransport(fetchFn: typeof fetch): HostTransport {
  return async ({ url, method, headers, body, timeoutMs }) => {
    const signal = AbortSignal.timeout(timeoutMs);
    return answerOf(await fetchFn(url, { method, headers, ...(body === undefined ? {} : { body }), signal }));
  };
}

const answerOf = (response: Response, read = () => response.text()): HostHttpResponse => ({
  status: response.status,
  read,
  stream: () => response.body ?? new ReadableStream({ start: (c) => c.close() }),
  header: (name) => response.headers.get(name),
});

/** A session host running in the edge's own process: its internal URL and its app's fetch handler. */
export interface LocalHost {
  url: string;
  fetch(request: Request): Promise<Response>;
}

/**
 * Calls to `local` handed to its app directly (no sockets, no HTTP parsing on either side), the rest
 * through `remote`. The host's token checks run as they would over the network.
 */
export function inProcessTransport(local: LocalHost, remote: HostTransport): HostTransport {
  const prefix = `${local.url.replace(/\/+$/, '')}/`;
  const direct: HostTransport = async ({ url, method, headers, body, timeoutMs }) => {
    const answer = local.fetch(localRequest(url, method, headers, body));
    // A timed-out call is abandoned as a network call would be; the host finishes it on its own.
    let timer: ReturnType<typeof setTimeout> | undefined;
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new DOMException('The operation was aborted due to timeout', 'TimeoutError')),
        timeoutMs,
      );
    });
    try {
      const response = await Promise.race([answer, late]);
      return answerOf(response, () => localAnswerText(response));
    } finally {
      clearTimeout(timer);
    }
  };
  return (request) => (request.url.startsWith(prefix) ? direct(request) : remote(request));
}

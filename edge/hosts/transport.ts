// How the edge's calls reach a host: one request, its status, body text and Retry-After. Web-standard
// fetch everywhere; the Node entry passes a lighter one over undici's own client (WHATWG fetch's layers
// of Request, Headers and streams cost more than the rest of a forwarded call).

export interface HostHttpRequest {
  url: string;
  method: 'GET' | 'POST';
  headers: Record<string, string>;
  body?: string;
  signal: AbortSignal;
}

/**
 * Sends one request. It rejects when no answer came (refused, reset, timed out); `read` rejects when the
 * answer's body broke off, so a caller can tell "never answered" from "answered, body lost".
 */
export type HostTransport = (request: HostHttpRequest) => Promise<HostHttpResponse>;

export interface HostHttpResponse {
  status: number;
  retryAfter: string | null;
  read(): Promise<string>;
  /** The body as it arrives (a file), instead of `read`. */
  stream(): ReadableStream<Uint8Array>;
  header(name: string): string | null;
}

/** A transport over a fetch function (Workers, Deno, tests). */
export function fetchTransport(fetchFn: typeof fetch): HostTransport {
  return async ({ url, method, headers, body, signal }) => {
    const response = await fetchFn(url, { method, headers, ...(body === undefined ? {} : { body }), signal });
    return {
      status: response.status,
      retryAfter: response.headers.get('retry-after'),
      read: () => response.text(),
      stream: () => response.body ?? new ReadableStream({ start: (c) => c.close() }),
      header: (name) => response.headers.get(name),
    };
  };
}

// A call handed to a host app without undici's WHATWG objects either way: from an edge in the same
// process, or off an edge's call channel (node-runtime/host-calls). undici's Request converts and copies
// the headers, makes an AbortController and a body stream; reading an answer's text builds a Response,
// encodes the string and streams it back. In a status call in one process the two
// were a fifth of the busy time, more than the host's own answer.

/** Never aborted: a timed-out in-process call is abandoned, and the host finishes it on its own. */
const NOT_ABORTED = new AbortController().signal;

const encoder = new TextEncoder();

/** Read-only headers over a plain record with lower-case names (the edge's client writes them so). */
class LocalHeaders {
  readonly #values = new Map<string, string>();

  constructor(record: Record<string, string>) {
    for (const name in record) this.#values.set(name.toLowerCase(), record[name] as string);
  }

  get(name: string): string | null {
    return this.#values.get(name.toLowerCase()) ?? null;
  }

  has(name: string): boolean {
    return this.#values.has(name.toLowerCase());
  }

  forEach(callback: (value: string, name: string, headers: this) => void): void {
    for (const [name, value] of this.#values) callback(value, name, this);
  }

  entries(): IterableIterator<[string, string]> {
    return this.#values.entries();
  }

  keys(): IterableIterator<string> {
    return this.#values.keys();
  }

  values(): IterableIterator<string> {
    return this.#values.values();
  }

  [Symbol.iterator](): IterableIterator<[string, string]> {
    return this.#values.entries();
  }
}

class LocalRequest {
  readonly url: string;
  readonly method: string;
  headers: LocalHeaders;
  readonly signal = NOT_ABORTED;
  #body: string;
  #used = false;

  constructor(url: string, method: string, headers: Record<string, string>, body: string | undefined) {
    this.url = url;
    this.method = method;
    this.#body = body ?? '';
    // As a network client sends it, so a body limit reads the length instead of counting a stream.
    this.headers = new LocalHeaders(
      body === undefined
        ? headers
        : { ...headers, 'content-length': String(encoder.encode(body).byteLength) },
    );
  }

  get bodyUsed(): boolean {
    return this.#used;
  }

  get body(): ReadableStream<Uint8Array> | null {
    return this.#body === '' ? null : new Blob([this.#body]).stream();
  }

  /** zod-openapi clones a request to see whether a body without a content type is empty. */
  clone(): LocalRequest {
    if (this.#used) throw new TypeError('Request.clone: Body has already been consumed.');
    const copy = new LocalRequest(this.url, this.method, {}, undefined);
    copy.headers = this.headers;
    copy.#body = this.#body;
    return copy;
  }

  async text(): Promise<string> {
    if (this.#used) throw new TypeError('Body is unusable: Body has already been read');
    this.#used = true;
    return this.#body;
  }

  async json(): Promise<unknown> {
    return JSON.parse(await this.text());
  }

  async arrayBuffer(): Promise<ArrayBuffer> {
    const bytes = encoder.encode(await this.text());
    return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength);
  }
}

/**
 * A request for a host app in this process: what Hono and the host's routes read (URL, method, headers,
 * signal, body, a clone); the rest of a Request (form data, cache modes) they never use.
 */
export const localRequest = (
  url: string,
  method: string,
  headers: Record<string, string>,
  body?: string,
): Request => new LocalRequest(url, method, headers, body) as unknown as Request;

/** The symbol under which @hono/node-server's Response keeps its status, body and headers. */
let cacheKey: symbol | undefined;

/**
 * The text of a host app's answer. @hono/node-server (which makes `Response` its own class on Node)
 * keeps a string body as it was given until a WHATWG part is asked for: it is read from there. Any other
 * answer (a stream, a file, another runtime's Response) is read the standard way.
 */
export const localAnswerText = (response: Response): Promise<string> => {
  cacheKey ??= Object.getOwnPropertySymbols(response).find((key) => key.description === 'cache');
  const cached: unknown = cacheKey && (response as unknown as Record<symbol, unknown>)[cacheKey];
  if (Array.isArray(cached) && typeof cached[1] === 'string') return Promise.resolve(cached[1]);
  return response.text();
};

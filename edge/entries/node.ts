// The Node entry: the edge app on @hono/node-server. `npm start` and the tests use it.
import { lookup } from 'node:dns/promises';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import { getRequestListener } from '@hono/node-server';
import { getConnInfo } from '@hono/node-server/conninfo';
import type { Kysely } from 'kysely';
import pino from 'pino';
import { Agent, type Dispatcher } from 'undici';
import { z } from 'zod';
import { poolUsage } from '../../node-runtime/db/connect.js';
import { hostChannels } from '../../node-runtime/host-calls/client.js';
import { EdgeMetrics } from '../../node-runtime/metrics/edge-metrics.js';
import type { Database } from '../../shared/db-schema.js';
import { createEdge, type EdgeApp, type EdgeDeps } from '../app.js';
import {
  type HostHttpResponse,
  type HostTransport,
  inProcessTransport,
  type LocalHost,
} from '../hosts/transport.js';
import { EdgeServerResponse } from './node-response.js';

/**
 * How long a connection to a session host may sit idle in the pool before the edge closes it. Below the
 * host server's keep-alive timeout (node-runtime/host/server.ts, HOST_KEEP_ALIVE_TIMEOUT_MS) with room to
 * spare: the side that closes an idle connection should be the one that would otherwise reuse it, so a
 * request is never sent down a connection the host is closing at that moment. (One still can be, if the
 * host restarts; the host client retries idempotent calls once for that.)
 */
export const HOST_CONNECTION_IDLE_MS = 4_000;

/** How long connecting to a host may take (hosts are on the same network as the edge). */
const HOST_CONNECT_TIMEOUT_MS = 3_000;

/**
 * A pool of keep-alive connections per host for the edge's calls to session hosts. `keepAliveMaxTimeout`
 * caps the idle time the host's `Keep-Alive: timeout=...` hint could otherwise raise.
 */
function hostConnectionPool(): Agent {
  return new Agent({
    keepAliveTimeout: HOST_CONNECTION_IDLE_MS,
    keepAliveMaxTimeout: HOST_CONNECTION_IDLE_MS,
    // A call's own time starts once it is written (undiciTransport): a host that does not even accept
    // the connection is given up on sooner than undici's default 10 s.
    connect: { timeout: HOST_CONNECT_TIMEOUT_MS },
  });
}

/**
 * Calls to hosts over undici's own client and the pool, without WHATWG fetch's Request and streams. A
 * short answer (all but files) is gathered as it arrives, without the stream undici's `request` makes
 * for every body: that stream was about an eighth of a bare proxy's CPU per call.
 */
export function undiciTransport(pool: Agent): HostTransport {
  // The origin of each host's URL, parsed once: the edge calls the same few hosts all the time.
  const origins = new Map<string, string>();
  return ({ url, method, headers, body, timeoutMs, streamed }) => {
    const slash = url.indexOf('/', url.indexOf('//') + 2);
    const prefix = slash === -1 ? url : url.slice(0, slash);
    let origin = origins.get(prefix);
    if (origin === undefined) {
      origin = new URL(prefix).origin;
      if (origins.size >= 1_000) origins.clear();
      origins.set(prefix, origin);
    }
    const options: Dispatcher.DispatchOptions = {
      origin,
      path: slash === -1 ? '/' : url.slice(slash),
      method,
      headers,
      ...(body === undefined ? {} : { body }),
      // undici's own timers (shared, coarse) instead of an AbortSignal per call, which cost more than the
      // rest of the call's bookkeeping: the answer's headers in time, then no pause in its body longer.
      headersTimeout: timeoutMs,
      bodyTimeout: timeoutMs,
    };
    return streamed ? streamedCall(pool, options) : gatheredCall(pool, options);
  };
}

const headerOf = (headers: IncomingHttpHeaders, name: string) => {
  const value = headers[name];
  return (Array.isArray(value) ? value[0] : value) ?? null;
};

async function streamedCall(pool: Agent, options: Dispatcher.DispatchOptions): Promise<HostHttpResponse> {
  const response = await pool.request(options);
  return {
    status: response.statusCode,
    read: () => response.body.text(),
    stream: () => Readable.toWeb(response.body) as ReadableStream<Uint8Array>,
    header: (name) => headerOf(response.headers, name),
  };
}

/** Resolves with the answer once its status and headers are in (see `GatheredAnswer`). */
function gatheredCall(pool: Agent, options: Dispatcher.DispatchOptions): Promise<HostHttpResponse> {
  return new Promise((resolve, reject) => {
    pool.dispatch(options, new GatheredAnswer(resolve, reject));
  });
}

/**
 * A short answer, gathered as it arrives: undici's handler and the answer handed to the caller in one
 * object (a call is a few allocations, not a stream and its closures). `read` rejects if the body breaks
 * off after the answer came (as a stream's would), so "never answered" and "answered, body lost" stay
 * apart.
 */
class GatheredAnswer implements Dispatcher.DispatchHandler, HostHttpResponse {
  status = 0;
  private headers: IncomingHttpHeaders = {};
  private readonly chunks: Buffer[] = [];
  private outcome: { bytes: Buffer } | { err: Error } | undefined;
  private ended: Promise<void> | undefined;
  private settle: (() => void) | undefined;

  constructor(
    private readonly answer: (response: HostHttpResponse) => void,
    private readonly fail: (err: Error) => void,
  ) {}

  onRequestStart() {}

  onResponseStart(_controller: Dispatcher.DispatchController, status: number, headers: IncomingHttpHeaders) {
    this.status = status;
    this.headers = headers;
    this.answer(this);
  }

  onResponseData(_controller: Dispatcher.DispatchController, chunk: Buffer) {
    this.chunks.push(chunk);
  }

  onResponseEnd() {
    const { chunks } = this;
    this.outcome = { bytes: chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks) };
    this.settle?.();
  }

  onResponseError(_controller: Dispatcher.DispatchController | null, err: Error) {
    // No status yet: the host never answered (HTTP statuses start at 100).
    if (this.status === 0) return this.fail(err);
    this.outcome = { err };
    this.settle?.();
  }

  read(): Promise<string> {
    return this.body().then((bytes) => bytes.toString());
  }

  stream(): ReadableStream<Uint8Array> {
    return new ReadableStream({
      start: async (controller) => {
        controller.enqueue(await this.body());
        controller.close();
      },
    });
  }

  header(name: string): string | null {
    return headerOf(this.headers, name);
  }

  private body(): Promise<Buffer> {
    const { outcome } = this;
    if (outcome) return 'err' in outcome ? Promise.reject(outcome.err) : Promise.resolve(outcome.bytes);
    // One wait for the end, however many readers ask before it.
    this.ended ??= new Promise<void>((done) => {
      this.settle = done;
    });
    return this.ended.then(() => this.body());
  }
}

/** Every address `hostname` resolves to, as the system resolver sees it (what the hosts will connect by). */
export async function resolveWithDns(hostname: string): Promise<string[]> {
  const found = await lookup(hostname, { all: true });
  return found.map((entry) => entry.address);
}

const ListenSchema = z.object({
  /** 0 picks a free port. */
  port: z.int().min(0).max(65535),
  /** Default: every interface, as the seed listened. */
  hostname: z.string().min(1).optional(),
});

export interface StartEdgeOptions extends Omit<EdgeDeps, 'db'> {
  port: number;
  hostname?: string;
  /** The process's database pool; the caller owns it (close it after `close()`). */
  db: Kysely<Database>;
  /** A session host in this process (npm start): its calls skip the network. */
  localHost?: LocalHost;
}

export interface RunningEdge {
  /** Base URL, e.g. http://127.0.0.1:3000 */
  url: string;
  port: number;
  app: EdgeApp;
  /**
   * Stops accepting connections, ends the open ones, writes the buffered last-used times, then closes the
   * pool of host connections once the calls still under way are done.
   */
  close(): Promise<void>;
}

/** Starts the edge app on an HTTP server. */
export async function startEdge(options: StartEdgeOptions): Promise<RunningEdge> {
  const listen = ListenSchema.parse({ port: options.port, hostname: options.hostname });
  const logger = options.logger ?? pino({ name: 'edge' });
  const pool = hostConnectionPool();
  // Prometheus metrics at GET /metrics (operator key), with the pool's use and the calls to hosts.
  const metrics = options.observe
    ? undefined
    : new EdgeMetrics(() => {
        const usage = poolUsage(options.db);
        return usage ? [{ pool: 'edge', ...usage }] : [];
      });
  const channels = hostChannels(undiciTransport(pool), {
    connectTimeoutMs: HOST_CONNECT_TIMEOUT_MS,
    ...(metrics ? { observe: metrics.hostCalls } : {}),
  });
  const { app, flush } = createEdge({
    // The socket's peer: the only address here a client cannot choose (a proxy's header is opt-in).
    peerAddress: (c) => getConnInfo(c).remote.address,
    hostTransport: options.localHost
      ? inProcessTransport(options.localHost, channels.transport)
      : channels.transport,
    ...options,
    resolveHost: options.resolveHost ?? resolveWithDns,
    setsResponseHeaders: true,
    logger,
    observe: options.observe ?? metrics,
  });
  const server = createServer({ ServerResponse: EdgeServerResponse }, getRequestListener(app.fetch));
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(listen.port, listen.hostname, () => {
      server.off('error', reject);
      resolve();
    });
  }).catch(async (err: unknown) => {
    await pool.close();
    throw err;
  });
  const { port } = server.address() as AddressInfo;
  const shownHost =
    listen.hostname === undefined || listen.hostname === '0.0.0.0' || listen.hostname === '::'
      ? 'localhost'
      : listen.hostname.includes(':')
        ? `[${listen.hostname}]`
        : listen.hostname;
  const url = `http://${shownHost}:${port}`;
  logger.info({ url }, 'edge listening');
  return {
    url,
    port,
    app,
    close: async () => {
      await new Promise<void>((resolve, reject) => {
        server.close((err) => (err ? reject(err) : resolve()));
        // Keep-alive connections would hold close() open until they time out.
        server.closeAllConnections();
      });
      await flush();
      await channels.close();
      await pool.close();
    },
  };
}

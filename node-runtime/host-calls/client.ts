// The edge's end of the call channels (./wire.ts), as a host transport for the Node entry: one channel
// per host, opened on first use and again after it closed. Files, long bodies, TLS hosts and hosts that
// do not take channels (an older version) are called over `http` instead.
import { request as httpRequest } from 'node:http';
import type { Socket } from 'node:net';
import type { HostHttpResponse, HostTransport } from '../../edge/hosts/transport.js';
import {
  type AnswerLine,
  CALLS_PATH,
  CALLS_PROTOCOL,
  type CallLine,
  LineReader,
  LineWriter,
  MAX_ANSWER_BYTES,
  MAX_CALL_BYTES,
} from './wire.js';

/** Told of every call and every channel opened, for the edge's metrics. */
export interface HostCallsObserver {
  call(via: 'channel' | 'http'): void;
  /** `refused`: the host takes no channels (404); its calls go over HTTP. */
  opened(outcome: 'opened' | 'refused' | 'failed'): void;
}

export interface HostChannels {
  transport: HostTransport;
  /** Each channel closes once its calls under way are answered (or timed out). */
  close(): Promise<void>;
}

/** Bodies longer than this go over HTTP: a call's line must stay well under MAX_CALL_BYTES. */
const MAX_CHANNEL_BODY = MAX_CALL_BYTES / 4;

/** A host that answered the upgrade with 404 (it has no channels) is called over HTTP for this long. */
const NO_CHANNEL_FOR_MS = 60_000;

/** Calls to hosts over channels, or over `http` where a channel will not do. */
export function hostChannels(
  http: HostTransport,
  options: { connectTimeoutMs: number; observe?: HostCallsObserver },
): HostChannels {
  const observe = options.observe;
  const overHttp: HostTransport = (request) => {
    observe?.call('http');
    return http(request);
  };
  /** The channel new calls to each host go over. */
  const channels = new Map<string, Channel>();
  /** Every channel not closed yet, those retired included. */
  const live = new Set<Channel>();
  const withoutChannel = new Map<string, number>();
  let closing = false;
  const transport: HostTransport = async (request) => {
    const target = channelTarget(request.url);
    if (
      closing ||
      !target ||
      request.streamed ||
      (request.body !== undefined && request.body.length > MAX_CHANNEL_BODY) ||
      (withoutChannel.get(target.origin) ?? 0) > Date.now()
    ) {
      return overHttp(request);
    }
    let channel = channels.get(target.origin);
    if (!channel || channel.gone) {
      const made = new Channel(
        target.hostname,
        target.port,
        options.connectTimeoutMs,
        () => live.delete(made),
        observe,
      );
      live.add(made);
      channels.set(target.origin, made);
      channel = made;
    }
    try {
      return await channel.call(
        request.method,
        target.path,
        request.headers,
        request.body,
        request.timeoutMs,
      );
    } catch (err) {
      if (!(err instanceof NoChannel)) throw err;
      withoutChannel.set(target.origin, Date.now() + NO_CHANNEL_FOR_MS);
      return overHttp(request);
    }
  };
  return {
    transport,
    async close() {
      closing = true;
      await Promise.all([...live].map((channel) => channel.close()));
    },
  };
}

/** Each host URL's origin, parsed once: the edge calls the same few hosts all the time. */
const origins = new Map<string, { hostname: string; port: number }>();

/** Where a call goes over a channel: plain `http` URLs only. */
function channelTarget(url: string) {
  if (!url.startsWith('http://')) return undefined;
  const slash = url.indexOf('/', 'http://'.length);
  const origin = slash === -1 ? url : url.slice(0, slash);
  let parsed = origins.get(origin);
  if (!parsed) {
    const { hostname, port } = new URL(origin);
    parsed = { hostname: hostname.replace(/^\[|\]$/g, ''), port: Number(port || 80) };
    if (origins.size >= 1_000) origins.clear();
    origins.set(origin, parsed);
  }
  return { origin, ...parsed, path: slash === -1 ? '/' : url.slice(slash) };
}

/** The host answered the upgrade with 404: it takes no channels. */
class NoChannel extends Error {}

/** Calls not answered when their channel closed: as a reset connection, so idempotent ones go again. */
const closedUnanswered = () =>
  Object.assign(new Error('the host closed the call channel before answering'), { code: 'ECONNRESET' });

type Pending = {
  resolve: (answer: HostHttpResponse) => void;
  reject: (err: Error) => void;
  timer: ReturnType<typeof setTimeout>;
};

class Channel {
  gone = false;
  private socket: Socket | undefined;
  private opening: Promise<Socket> | undefined;
  private writer: LineWriter | undefined;
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  /** Answers heard so far: a call timed out with none heard since it went means the host is gone. */
  private heard = 0;
  private closing = false;
  private closed: Promise<void> | undefined;

  constructor(
    private readonly hostname: string,
    private readonly port: number,
    private readonly connectTimeoutMs: number,
    private readonly ended: () => void,
    private readonly observe: HostCallsObserver | undefined,
  ) {}

  async call(
    method: 'GET' | 'POST',
    path: string,
    headers: Record<string, string>,
    body: string | undefined,
    timeoutMs: number,
  ): Promise<HostHttpResponse> {
    if (!this.socket) {
      this.opening ??= this.open();
      await this.opening;
    }
    const writer = this.writer;
    if (this.gone || !writer) throw closedUnanswered();
    return new Promise((resolve, reject) => {
      const id = this.nextId++;
      const heard = this.heard;
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new DOMException('The operation was aborted due to timeout', 'TimeoutError'));
        // Nothing heard since this call went: the host or the way to it may be stuck. Later calls go over
        // a new channel; those under way here keep their own time.
        if (this.heard === heard) this.retire();
        this.endIfDone();
      }, timeoutMs);
      this.pending.set(id, { resolve, reject, timer });
      const line: CallLine = [id, method, path, headers, body ?? null];
      writer.push(JSON.stringify(line));
      this.observe?.call('channel');
    });
  }

  /** No new call goes here; the channel ends once the calls under way are answered or timed out. */
  private retire() {
    this.gone = true;
    this.closing = true;
  }

  close(): Promise<void> {
    this.closing = true;
    const socket = this.socket;
    this.closed ??=
      socket && !socket.closed
        ? new Promise((resolve) => socket.once('close', () => resolve()))
        : Promise.resolve();
    this.endIfDone();
    return this.closed;
  }

  private endIfDone() {
    if (this.closing && this.pending.size === 0) this.socket?.end();
  }

  private open(): Promise<Socket> {
    return new Promise<Socket>((resolve, reject) => {
      const req = httpRequest({
        host: this.hostname,
        port: this.port,
        path: CALLS_PATH,
        headers: { connection: 'Upgrade', upgrade: CALLS_PROTOCOL },
        agent: false,
      });
      const timer = setTimeout(
        () =>
          req.destroy(Object.assign(new Error('connecting to the host timed out'), { code: 'ETIMEDOUT' })),
        this.connectTimeoutMs,
      );
      const fail = (err: Error) => {
        clearTimeout(timer);
        this.gone = true;
        this.ended();
        this.observe?.opened(err instanceof NoChannel ? 'refused' : 'failed');
        reject(err);
      };
      req.on('error', fail);
      req.on('response', (res) => {
        res.resume();
        fail(
          res.statusCode === 404
            ? new NoChannel()
            : new Error(`the host refused a call channel (${res.statusCode})`),
        );
      });
      req.on('upgrade', (_res, socket: Socket, head: Buffer) => {
        clearTimeout(timer);
        this.attach(socket, head);
        this.observe?.opened('opened');
        resolve(socket);
      });
      req.end();
    });
  }

  private attach(socket: Socket, head: Buffer) {
    this.socket = socket;
    this.writer = new LineWriter((text) => {
      if (!socket.destroyed) socket.write(text);
    });
    socket.setNoDelay(true);
    socket.setKeepAlive(true, 30_000);
    const reader = new LineReader(MAX_ANSWER_BYTES, (line) => this.answer(line));
    const take = (chunk: Buffer) => {
      try {
        if (!reader.push(chunk)) throw new Error('an answer longer than a channel takes');
      } catch {
        socket.destroy();
      }
    };
    socket.on('data', take);
    socket.on('error', () => socket.destroy());
    socket.on('end', () => socket.destroy());
    socket.once('close', () => {
      this.gone = true;
      this.ended();
      for (const { reject, timer } of this.pending.values()) {
        clearTimeout(timer);
        reject(closedUnanswered());
      }
      this.pending.clear();
    });
    if (head.length > 0) take(head);
    this.endIfDone(); // closed while it opened
  }

  private answer(line: string) {
    const [id, status, body, headers] = JSON.parse(line) as AnswerLine;
    if (typeof status !== 'number' || typeof body !== 'string') throw new Error('not an answer');
    this.heard++;
    const pending = this.pending.get(id);
    if (!pending) return; // timed out meanwhile
    this.pending.delete(id);
    clearTimeout(pending.timer);
    pending.resolve(new ChannelAnswer(status, body, headers));
    this.endIfDone();
  }
}

class ChannelAnswer implements HostHttpResponse {
  constructor(
    readonly status: number,
    private readonly body: string,
    private readonly headers: Record<string, string> | null,
  ) {}

  read(): Promise<string> {
    return Promise.resolve(this.body);
  }

  stream(): ReadableStream<Uint8Array> {
    return new Blob([this.body]).stream();
  }

  header(name: string): string | null {
    return this.headers?.[name.toLowerCase()] ?? null;
  }
}

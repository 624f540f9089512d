// The host's end of the edge's call channels (./wire.ts): each call goes to the host app as an
// in-process call would (the same routes, token checks and limits as over HTTP), and its answer back
// down the channel.
import type { IncomingMessage, Server } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import { localAnswerText, localRequest } from '../../edge/hosts/local-call.js';
import { ApiError, errorBody } from '../../shared/errors.js';
import {
  type AnswerLine,
  CALLS_PATH,
  CALLS_PROTOCOL,
  LineReader,
  LineWriter,
  MAX_CALL_BYTES,
} from './wire.js';

export interface CallsServer {
  /**
   * No call is taken from here on; each channel closes once its calls under way are answered. A call
   * that arrives meanwhile is never run: the edge sees the channel close before its answer.
   */
  close(): Promise<void>;
}

/** Takes the call channels the edge opens on `server` and hands their calls to `handle` (the host app). */
export function serveCalls(
  server: Server,
  handle: (request: Request) => Promise<Response>,
  logger: Logger,
): CallsServer {
  const channels = new Set<Channel>();
  let open = true;
  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    // An upgraded socket is the listener's own: an error on it unheard would end the process.
    socket.on('error', () => socket.destroy());
    if (req.url !== CALLS_PATH || req.headers.upgrade?.toLowerCase() !== CALLS_PROTOCOL) {
      socket.end('HTTP/1.1 404 Not Found\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
      return;
    }
    if (!open) {
      socket.end('HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
      return;
    }
    socket.write(
      `HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: ${CALLS_PROTOCOL}\r\n\r\n`,
    );
    const channel = new Channel(socket, handle, logger);
    channels.add(channel);
    socket.once('close', () => channels.delete(channel));
    if (head.length > 0) channel.take(head);
  });
  return {
    async close() {
      open = false;
      await Promise.all([...channels].map((channel) => channel.close()));
    },
  };
}

/** What a call that is not a well-formed line gets: the channel is closed (the edge never sends one). */
class BadLine extends Error {}

class Channel {
  private readonly reader = new LineReader(MAX_CALL_BYTES, (line) => this.call(line));
  private readonly writer: LineWriter;
  private underWay = 0;
  private closing = false;
  private closed: Promise<void>;

  constructor(
    private readonly socket: Duplex,
    private readonly handle: (request: Request) => Promise<Response>,
    private readonly logger: Logger,
  ) {
    this.writer = new LineWriter((text) => {
      if (!socket.destroyed) socket.write(text);
    });
    if ('setNoDelay' in socket && typeof socket.setNoDelay === 'function') socket.setNoDelay(true);
    this.closed = new Promise((resolve) => socket.once('close', () => resolve()));
    // The edge ended its side (it stops, or its channel was idle): calls under way are not answered.
    socket.on('end', () => socket.destroy());
    socket.on('data', (chunk: Buffer) => this.take(chunk));
  }

  take(chunk: Buffer) {
    try {
      if (!this.reader.push(chunk)) throw new BadLine('a call longer than a channel takes');
    } catch (err) {
      // Not the error itself: JSON's would quote the line, and a line may hold a token.
      const reason = err instanceof BadLine ? err.message : 'not JSON';
      this.logger.warn({ reason }, 'closing a call channel that sent what is not a call');
      this.socket.destroy();
    }
  }

  close(): Promise<void> {
    this.closing = true;
    if (this.underWay === 0) this.writer.afterWrite(() => this.socket.end());
    return this.closed;
  }

  private call(line: string) {
    if (this.closing || this.socket.destroyed) return;
    const [id, method, path, headers, body] = parseCall(line);
    this.underWay++;
    void this.answer(id, method, path, headers, body).finally(() => {
      this.underWay--;
      if (this.closing && this.underWay === 0) this.writer.afterWrite(() => this.socket.end());
    });
  }

  private async answer(
    id: number,
    method: string,
    path: string,
    headers: Record<string, string>,
    body: string | null,
  ) {
    let answer: AnswerLine;
    try {
      const response = await this.handle(
        localRequest(`http://host${path}`, method, headers, body ?? undefined),
      );
      const text = await localAnswerText(response);
      answer = [id, response.status, text, response.status < 400 ? null : headersOf(response)];
    } catch (err) {
      this.logger.error({ err }, 'a call over a channel failed');
      const error = new ApiError('INTERNAL_ERROR', { cause: err });
      answer = [id, error.status, JSON.stringify(errorBody(error)), null];
    }
    this.writer.push(JSON.stringify(answer));
  }
}

function parseCall(line: string): [number, string, string, Record<string, string>, string | null] {
  const call: unknown = JSON.parse(line);
  if (!Array.isArray(call) || call.length !== 5) throw new BadLine('not a call');
  const [id, method, path, headers, body] = call as unknown[];
  if (
    typeof id !== 'number' ||
    (method !== 'GET' && method !== 'POST') ||
    typeof path !== 'string' ||
    !path.startsWith('/') ||
    path.startsWith('//') ||
    typeof headers !== 'object' ||
    headers === null ||
    Array.isArray(headers) ||
    Object.values(headers).some((value) => typeof value !== 'string') ||
    (body !== null && typeof body !== 'string')
  ) {
    throw new BadLine('not a call');
  }
  return [id, method, path, headers as Record<string, string>, body];
}

function headersOf(response: Response): Record<string, string> {
  const headers: Record<string, string> = {};
  response.headers.forEach((value, name) => {
    headers[name] = value;
  });
  return headers;
}

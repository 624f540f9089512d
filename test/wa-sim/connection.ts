import {
  type BinaryNode,
  decodeBinaryNode,
  encodeBinaryNode,
  NOISE_WA_HEADER,
  type proto,
} from '@whiskeysockets/baileys';
import type { WebSocket } from 'ws';
import type { NoiseResponder, Transport } from './noise.js';
import type { Account, LinkedDevice } from './world.js';

/** The largest frame accepted from a client; a pre-key upload of 812 keys is about 40 KB. */
export const MAX_FRAME = 512 * 1024;
const HANDSHAKE_TIMEOUT_MS = 20_000;

export type ConnectionHooks = {
  /** The handshake finished: the client says who it is (registration or login). */
  onLogin(conn: SimConnection, payload: proto.ClientPayload, clientStatic: Buffer): void | Promise<void>;
  onNode(conn: SimConnection, node: BinaryNode): void | Promise<void>;
  onClose(conn: SimConnection): void;
};

/**
 * One client WebSocket: the intro, the Noise handshake, then 3-byte length frames carrying encrypted
 * binary nodes. Anything malformed closes this connection and nothing else.
 */
export class SimConnection {
  private stage: 'intro' | 'hello' | 'finish' | 'open' | 'closed' = 'intro';
  private inBytes: Buffer = Buffer.alloc(0);
  private transport: Transport | undefined;
  private work: Promise<void> = Promise.resolve();
  private readonly handshakeTimer: NodeJS.Timeout;
  /** Set once the client logged in as a linked device. */
  account: Account | undefined;
  device: LinkedDevice | undefined;
  /** Set while a new device waits for a phone to scan its QR. */
  pairingRefs: string[] = [];
  noiseKey: Buffer | undefined;

  constructor(
    private readonly ws: WebSocket,
    private readonly noise: NoiseResponder,
    private readonly hooks: ConnectionHooks,
  ) {
    this.handshakeTimer = setTimeout(() => this.stage !== 'open' && this.terminate(), HANDSHAKE_TIMEOUT_MS);
    ws.on('message', (data: Buffer) => this.receive(data));
    ws.on('close', () => this.closed());
    ws.on('error', () => this.terminate());
  }

  get isOpen() {
    return this.stage === 'open';
  }

  private receive(data: Buffer) {
    if (this.stage === 'closed') return;
    this.inBytes = this.inBytes.length ? Buffer.concat([this.inBytes, data]) : data;
    try {
      if (this.stage === 'intro') {
        if (this.inBytes.length < 4) return;
        if (!this.inBytes.subarray(0, 4).equals(NOISE_WA_HEADER)) throw new Error('bad intro');
        this.inBytes = this.inBytes.subarray(4);
        this.stage = 'hello';
      }
      for (let frame = this.nextFrame(); frame; frame = this.nextFrame()) this.frame(frame);
    } catch {
      this.terminate();
    }
  }

  private nextFrame(): Buffer | undefined {
    if (this.inBytes.length < 3) return undefined;
    const size = this.inBytes.readUIntBE(0, 3);
    if (size > MAX_FRAME) throw new Error('frame too large');
    if (this.inBytes.length < size + 3) return undefined;
    const frame = this.inBytes.subarray(3, size + 3);
    this.inBytes = this.inBytes.subarray(size + 3);
    return frame;
  }

  private frame(frame: Buffer) {
    if (this.stage === 'hello') {
      this.sendRaw(this.noise.answerHello(frame));
      this.stage = 'finish';
    } else if (this.stage === 'finish') {
      const { clientStatic, payload, transport } = this.noise.acceptFinish(frame);
      this.transport = transport;
      this.stage = 'open';
      clearTimeout(this.handshakeTimer);
      this.noiseKey = clientStatic;
      this.enqueue(() => this.hooks.onLogin(this, payload, clientStatic));
    } else if (this.stage === 'open' && this.transport) {
      // Decrypt now, in arrival order; decode and handle one node at a time.
      const plain = this.transport.decrypt(frame);
      this.enqueue(async () => this.hooks.onNode(this, await decodeBinaryNode(plain)));
    }
  }

  private enqueue(task: () => void | Promise<void>) {
    this.work = this.work.then(task).catch(() => this.terminate());
  }

  private sendRaw(payload: Uint8Array) {
    const frame = Buffer.alloc(3 + payload.length);
    frame.writeUIntBE(payload.length, 0, 3);
    frame.set(payload, 3);
    this.ws.send(frame);
  }

  /** Sends one binary node. */
  send(node: BinaryNode) {
    if (this.stage !== 'open' || !this.transport) return;
    this.sendRaw(this.transport.encrypt(encodeBinaryNode(node)));
  }

  /** Sends a stream error, then closes the socket, as the server does. */
  streamError(attrs: Record<string, string>, child?: BinaryNode) {
    this.send({ tag: 'stream:error', attrs, content: child ? [child] : undefined });
    this.close();
  }

  /** Closes cleanly after what was sent. */
  close() {
    if (this.stage === 'closed') return;
    this.ws.close();
    this.closed();
  }

  /** Cuts the connection at once, as a network drop does. */
  terminate() {
    if (this.stage === 'closed') return;
    this.ws.terminate();
    this.closed();
  }

  private closed() {
    if (this.stage === 'closed') return;
    this.stage = 'closed';
    clearTimeout(this.handshakeTimer);
    this.inBytes = Buffer.alloc(0);
    this.hooks.onClose(this);
  }
}

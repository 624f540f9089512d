// The bench's side of the raw Baileys baseline (bench/procs/raw-baileys.ts).
import { entryOf, NodeProc } from './procs.js';

export interface LinkTiming {
  /** Socket creation (ours: POST /api/session/create) to the first QR. */
  createToQrMs: number;
  /** The phone's scan to the socket open (ours: status says connected). */
  scanToConnectedMs: number;
}

/**
 * A JPEG-looking file of `bytes`: its first bytes are a JPEG's, the rest pseudo-random noise (the same in
 * every run), which no compressor shrinks, as it cannot shrink a photo's compressed data.
 */
export function benchImage(bytes: number): Buffer {
  const image = Buffer.alloc(bytes);
  let x = 2463534242;
  for (let i = 0; i < bytes; i++) {
    // xorshift32
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    image[i] = x & 0xff;
  }
  image.set([0xff, 0xd8, 0xff, 0xe0], 0);
  return image;
}

export interface SendJob {
  /** Index of the socket, in link order. */
  socket: number;
  /** Recipient JID. */
  to: string;
  texts: string[];
  /** Send an image of this many bytes (the same for every send) with each text as its caption. */
  imageBytes?: number;
}

export interface RawSendResult {
  /** Epoch ms. */
  startedAt: number;
  lastAcceptedAt: number;
  accepted: number;
  failed: number;
  ids: string[];
  /** Accepted messages per recipient phone number. */
  acceptedBy: Record<string, number>;
}

/** Text messages the raw sockets received (`messages.upsert` of type notify), since `inboundStart`. */
export interface RawInbound {
  /** One per upsert, in arrival order: WhatsApp's message id and when it was emitted (epoch ms). */
  arrivals: [id: string, at: number][];
  /** Whether `count` arrived before the time ran out. */
  complete: boolean;
}

/** Sockets reopened from saved auth state: when each opened (epoch ms; NaN, null over IPC: it did not), and why not. */
export interface RawResume {
  openAt: number[];
  failures: string[];
}

export type RawCommand =
  | { command: 'link'; phones: string[]; concurrency: number }
  | { command: 'resume'; phones: string[]; concurrency: number }
  | { command: 'send'; jobs: SendJob[]; inflight: number; check?: boolean }
  | { command: 'serve' }
  | { command: 'inbound-start' }
  | { command: 'inbound-wait'; count: number; timeoutMs: number }
  | { command: 'close' };

const WORKER = entryOf(new URL('../procs/raw-baileys.ts', import.meta.url));

/** A child process holding raw Baileys sockets against the simulator. */
export class RawBaileys {
  private nextId = 1;
  private constructor(readonly proc: NodeProc) {}

  static async start(
    sim: { url: string; wsUrl: string; trustRoot: string; mediaCa: string },
    logFile: string,
    opts: { inspectPort?: number; authDir?: string } = {},
  ) {
    const proc = new NodeProc({
      name: 'raw-baileys',
      script: WORKER,
      env: {
        WA_WS_URL: sim.wsUrl,
        WA_SIM_URL: sim.url,
        WA_TRUST_ROOT: sim.trustRoot,
        WA_MEDIA_CA: sim.mediaCa,
        ...(opts.authDir ? { RAW_AUTH_DIR: opts.authDir } : {}),
      },
      logFile,
      probe: true,
      inspectPort: opts.inspectPort,
    });
    await proc.whileRunning(
      new Promise<void>((resolve) => {
        const onMessage = (m: unknown) => {
          if ((m as { type?: string }).type !== 'raw:ready') return;
          proc.child.off('message', onMessage);
          resolve();
        };
        proc.child.on('message', onMessage);
      }),
    );
    return new RawBaileys(proc);
  }

  private call<T>(command: RawCommand): Promise<T> {
    const id = this.nextId++;
    return this.proc.whileRunning(
      new Promise<T>((resolve, reject) => {
        const onMessage = (m: unknown) => {
          const msg = m as { type?: string; id?: number; ok?: boolean; value?: T; error?: string };
          if (msg.type !== 'raw:result' || msg.id !== id) return;
          this.proc.child.off('message', onMessage);
          if (msg.ok) resolve(msg.value as T);
          else reject(new Error(`raw-baileys ${command.command}: ${msg.error}`));
        };
        this.proc.child.on('message', onMessage);
        this.proc.child.send({ type: 'raw', id, ...command });
      }),
    );
  }

  link(phones: string[], concurrency: number): Promise<LinkTiming[]> {
    return this.call({ command: 'link', phones, concurrency });
  }

  /** Opens the sockets of accounts linked by an earlier process on the same auth folder: when each was open. */
  resume(phones: string[], concurrency: number): Promise<RawResume> {
    return this.call({ command: 'resume', phones, concurrency });
  }

  /** `check`: ask onWhatsApp before each send, as the session host does. */
  send(jobs: SendJob[], inflight: number, check = false): Promise<RawSendResult> {
    return this.call({ command: 'send', jobs, inflight, check });
  }

  /**
   * Serves the seed's `POST /api/send` over these sockets (`x-api-key`: the socket's index): the URL of a
   * gateway as small as the seed, for comparison.
   */
  serve(): Promise<string> {
    return this.call({ command: 'serve' });
  }

  /** Forgets the messages received so far and records those that arrive from now on. */
  inboundStart(): Promise<null> {
    return this.call({ command: 'inbound-start' });
  }

  /**
   * Answers once `count` messages arrived since `inboundStart` (or at `timeoutMs`), with each one's id
   * and time: the process is not polled meanwhile, so waiting costs it nothing.
   */
  inboundWait(count: number, timeoutMs: number): Promise<RawInbound> {
    return this.call({ command: 'inbound-wait', count, timeoutMs });
  }

  memory() {
    return this.proc.memory(true);
  }

  async close(): Promise<void> {
    if (!this.proc.running) return;
    await this.call({ command: 'close' }).catch(() => undefined);
    await this.proc.stop(10_000);
  }
}

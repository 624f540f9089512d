// CPU profiles of one phase of a running process, over the V8 inspector protocol: the process is started
// with --inspect on a known port, and the bench starts and stops the profiler around what it measures
// (`node --cpu-prof` would profile the whole life, set-up included).
import { writeFile } from 'node:fs/promises';
import WebSocket from 'ws';

export class InspectorSession {
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();

  private constructor(private readonly ws: WebSocket) {
    ws.on('message', (data) => {
      const msg = JSON.parse(String(data)) as { id?: number; result?: unknown; error?: { message: string } };
      const waiter = msg.id === undefined ? undefined : this.pending.get(msg.id);
      if (!waiter || msg.id === undefined) return;
      this.pending.delete(msg.id);
      if (msg.error) waiter.reject(new Error(msg.error.message));
      else waiter.resolve(msg.result);
    });
  }

  /** Connects to the process listening with `--inspect=127.0.0.1:<port>`. */
  static async connect(port: number): Promise<InspectorSession> {
    const targets = (await (await fetch(`http://127.0.0.1:${port}/json/list`)).json()) as {
      webSocketDebuggerUrl: string;
    }[];
    const url = targets[0]?.webSocketDebuggerUrl;
    if (!url) throw new Error(`no inspector target on port ${port}`);
    const ws = new WebSocket(url);
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    return new InspectorSession(ws);
  }

  call<T = unknown>(method: string, params: Record<string, unknown> = {}): Promise<T> {
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      this.ws.send(JSON.stringify({ id, method, params }));
    });
  }

  async startProfiling(): Promise<void> {
    await this.call('Profiler.enable');
    await this.call('Profiler.setSamplingInterval', { interval: 500 });
    await this.call('Profiler.start');
  }

  /** Stops the profiler and writes the profile (`.cpuprofile`, as --cpu-prof writes it) to `file`. */
  async stopProfiling(file: string): Promise<void> {
    const { profile } = await this.call<{ profile: unknown }>('Profiler.stop');
    await writeFile(file, JSON.stringify(profile));
  }

  close(): void {
    this.ws.close();
  }
}

// Child processes the bench starts and measures: the session host, the edge, the raw Baileys baseline.
import { type ChildProcess, spawn } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import { sleep, until } from './stats.js';

/**
 * An entry of the project as the running bench must start it: the compiled `.js` when the bench itself
 * runs compiled (`npm run bench`, as `npm start` runs), the `.ts` source through tsx when it runs from
 * source (the smoke test). `url` names the source.
 */
export const entryOf = (url: URL): string =>
  fileURLToPath(url).replace(/\.ts$/, import.meta.url.endsWith('.ts') ? '.ts' : '.js');

/** The project's root, from the sources (bench/lib/) or from their compiled copy (dist/bench/lib/). */
export const ROOT = fileURLToPath(
  new URL(import.meta.url.endsWith('.ts') ? '../../' : '../../../', import.meta.url),
);
export const PROBE = entryOf(new URL('../procs/probe.ts', import.meta.url));

export interface MemoryUsage {
  rss: number;
  heapTotal: number;
  heapUsed: number;
  external: number;
  arrayBuffers: number;
}

export interface NodeProcOptions {
  /** For messages and log file names. */
  name: string;
  /** Absolute path of the entry (entryOf): compiled JavaScript, or TypeScript run through tsx. */
  script: string;
  env: Record<string, string | undefined>;
  /** stdout and stderr go here (a file: a pipe the bench would have to drain costs the bench CPU). */
  logFile: string;
  /** Open the V8 inspector on this port, so the bench can profile one phase (bench/lib/inspector.ts). */
  inspectPort?: number;
  /** An IPC channel and the memory probe (bench/procs/probe.ts) with --expose-gc. */
  probe?: boolean;
  /** Node.js flags the entry runs with, as its npm script gives them. */
  nodeFlags?: readonly string[];
  cwd?: string;
}

/** A spawned Node process running one of the project's entries. */
export class NodeProc {
  readonly child: ChildProcess;
  private nextId = 1;
  private readonly exited: Promise<number | null>;

  constructor(readonly options: NodeProcOptions) {
    const args = options.script.endsWith('.ts') ? ['--import', 'tsx'] : [];
    args.push(...(options.nodeFlags ?? []));
    if (options.probe) args.push('--expose-gc', '--import', PROBE);
    if (options.inspectPort) args.push(`--inspect=127.0.0.1:${options.inspectPort}`);
    args.push(options.script);
    const out = openSync(options.logFile, 'a');
    this.child = spawn(process.execPath, args, {
      cwd: options.cwd ?? ROOT,
      env: { ...cleanEnv(), ...options.env },
      stdio: ['ignore', out, out, ...(options.probe ? (['ipc'] as const) : [])],
    });
    closeSync(out);
    this.exited = new Promise((resolve) => this.child.once('exit', (code) => resolve(code)));
  }

  get pid(): number {
    return this.child.pid ?? -1;
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Memory as the process sees it, after a full GC (needs `probe`). */
  memory(gc = true): Promise<MemoryUsage> {
    return ipcMemory(this.child, this.nextId++, gc);
  }

  /** SIGTERM, then SIGKILL after `timeoutMs`; resolves with the exit code. */
  async stop(timeoutMs = 30_000): Promise<number | null> {
    if (!this.running) return this.child.exitCode;
    this.child.kill('SIGTERM');
    const timer = setTimeout(() => {
      if (this.running) this.child.kill('SIGKILL');
    }, timeoutMs);
    const code = await this.exited;
    clearTimeout(timer);
    return code;
  }

  /** Rejects when the process exits before `ready` resolves. */
  async whileRunning<T>(ready: Promise<T>): Promise<T> {
    const died = this.exited.then((code) => {
      throw new Error(`${this.options.name} exited with ${code} during start; see ${this.options.logFile}`);
    });
    return Promise.race([ready, died]);
  }
}

/** Asks a child running the probe (or the raw worker) for its memory. */
export function ipcMemory(child: ChildProcess, id: number, gc: boolean): Promise<MemoryUsage> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.off('message', onMessage);
      reject(new Error('no memory answer within 60 s'));
    }, 60_000);
    const onMessage = (m: unknown) => {
      const msg = m as { type?: string; id?: number } & MemoryUsage;
      if (msg.type !== 'bench:memory' || msg.id !== id) return;
      clearTimeout(timer);
      child.off('message', onMessage);
      resolve({
        rss: msg.rss,
        heapTotal: msg.heapTotal,
        heapUsed: msg.heapUsed,
        external: msg.external,
        arrayBuffers: msg.arrayBuffers,
      });
    };
    child.on('message', onMessage);
    child.send({ type: 'bench:memory', id, gc });
  });
}

/** The bench's environment minus what would change how the children run (a stray DATABASE_URL, PORT...). */
export function cleanEnv(): Record<string, string> {
  const env: Record<string, string> = {};
  const drop = new Set([
    'DATABASE_URL',
    'PORT',
    'HOST_PORT',
    'HOST_ID',
    'HOST_URL',
    'HOST_LISTEN',
    'DATA_DIR',
    'API_KEY',
    'EDGE_HOST_SECRET',
    'WA_WS_URL',
    'WA_TRUST_ROOT',
    'WA_SIM_PORT',
    'LOG_LEVEL',
    'NODE_OPTIONS',
  ]);
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !drop.has(k)) env[k] = v;
  return env;
}

/** A TCP port free at this moment on 127.0.0.1. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => {
        if (address && typeof address === 'object') resolve(address.port);
        else reject(new Error('no port'));
      });
    });
  });
}

/** Resolves once GET `url` answers `status`, or once its answer satisfies `ready` when given. */
export async function waitForHttp(
  url: string,
  {
    status = 200,
    timeoutMs = 60_000,
    everyMs = 50,
    ready,
  }: { status?: number; timeoutMs?: number; everyMs?: number; ready?: (body: string) => boolean } = {},
) {
  await until(
    async () => {
      try {
        const res = await fetch(url, { signal: AbortSignal.timeout(2_000) });
        const body = await res.text();
        return (ready ? ready(body) : res.status === status) ? true : undefined;
      } catch {
        return undefined;
      }
    },
    { timeoutMs, everyMs, what: `GET ${url} -> ${ready ? 'ready' : status}` },
  );
}

/**
 * Proportional set size of processes from /proc (Linux), in bytes: each page shared by n processes counts
 * 1/n, so PostgreSQL's shared buffers are counted once over all its processes.
 */
export async function procsPss(pids: number[]): Promise<number> {
  const { readFile } = await import('node:fs/promises');
  let total = 0;
  for (const pid of pids) {
    const rollup = await readFile(`/proc/${pid}/smaps_rollup`, 'utf8').catch(() => '');
    total += Number(/^Pss:\s+(\d+)\s+kB/m.exec(rollup)?.[1] ?? 0) * 1024;
  }
  return total;
}

/**
 * Unique set size of a process (Linux), in bytes: the pages only it maps. For a second Node.js process of
 * the stack, what it adds to the first: the node binary's pages both map are counted with the first.
 */
export async function procUss(pid: number): Promise<number> {
  const { readFile } = await import('node:fs/promises');
  const rollup = await readFile(`/proc/${pid}/smaps_rollup`, 'utf8').catch(() => '');
  const kb = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+)\\s+kB`, 'm').exec(rollup)?.[1] ?? 0);
  return (kb('Private_Clean') + kb('Private_Dirty')) * 1024;
}

export { sleep };

/**
 * CPU time a process has used so far, in ms (Linux /proc; clock ticks of 10 ms): user + system, or only
 * the system (kernel) part; with `children`, that of its children that ended (and were waited for) too.
 */
export async function procCpuMs(
  pid: number,
  part: 'all' | 'system' = 'all',
  { children = false } = {},
): Promise<number | undefined> {
  const { readFile } = await import('node:fs/promises');
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => undefined);
  if (!stat) return undefined;
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // After the command: state is field 3, utime 14, stime 15, cutime 16 and cstime 17 (1-based), so
  // indexes 11 to 14 here.
  const [user, system, childUser, childSystem] = fields.slice(11, 15).map(Number) as [
    number,
    number,
    number,
    number,
  ];
  const own = part === 'system' ? system : user + system;
  const ended = children ? (part === 'system' ? childSystem : childUser + childSystem) : 0;
  return (own + ended) * 10;
}

/**
 * Waits until the processes together use less than `maxShare` of a core over `windowMs` (a freshly linked
 * session keeps working for a while: history sync, pre-key upload), at most `timeoutMs`. Returns how long
 * it waited.
 */
export async function waitQuiet(
  pids: number[],
  { maxShare = 0.05, windowMs = 1_000, timeoutMs = 60_000 } = {},
): Promise<number> {
  const started = Date.now();
  const total = async () => {
    let sum = 0;
    for (const pid of pids) sum += (await procCpuMs(pid)) ?? 0;
    return sum;
  };
  let before = await total();
  while (Date.now() - started < timeoutMs) {
    await sleep(windowMs);
    const now = await total();
    if ((now - before) / windowMs < maxShare) break;
    before = now;
  }
  return Date.now() - started;
}

/** Every process whose parent chain leads to `root` (Linux /proc). */
export async function descendants(root: number): Promise<{ pid: number; comm: string }[]> {
  const { readdir, readFile } = await import('node:fs/promises');
  const parents = new Map<number, { ppid: number; comm: string }>();
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = await readFile(`/proc/${entry}/stat`, 'utf8').catch(() => undefined);
    if (!stat) continue;
    const close = stat.lastIndexOf(')');
    const comm = stat.slice(stat.indexOf('(') + 1, close);
    const ppid = Number(stat.slice(close + 2).split(' ')[1]);
    parents.set(Number(entry), { ppid, comm });
  }
  const out: { pid: number; comm: string }[] = [];
  const walk = (pid: number) => {
    for (const [child, info] of parents) {
      if (info.ppid === pid) {
        out.push({ pid: child, comm: info.comm });
        walk(child);
      }
    }
  };
  walk(root);
  return out;
}

/** CPU ms used so far by these processes together (those that are gone count as 0). */
export async function cpuMsOf(pids: number[], part: 'all' | 'system' = 'all'): Promise<number> {
  let sum = 0;
  // A child that ended counts in its parent's: a database connection closed during a run keeps its CPU.
  for (const pid of pids) sum += (await procCpuMs(pid, part, { children: true })) ?? 0;
  return sum;
}

/**
 * What the scheduler counted for a process so far, summed over its threads: time on a CPU and time
 * runnable but waiting for one (µs), and how often its threads were switched out, by choice (waiting for
 * I/O) or preempted. Exact where /proc's CPU times are split by ticks, and the only place the wait shows.
 */
export type Scheduled = { runUs: number; waitUs: number; switches: number; preempted: number };

export async function scheduledOf(pid: number): Promise<Scheduled> {
  const { readdir, readFile } = await import('node:fs/promises');
  const total: Scheduled = { runUs: 0, waitUs: 0, switches: 0, preempted: 0 };
  for (const tid of await readdir(`/proc/${pid}/task`).catch(() => [])) {
    const dir = `/proc/${pid}/task/${tid}`;
    // A thread that ends meanwhile is skipped: Node's threads live as long as the process.
    const [stat, status] = await Promise.all([
      readFile(`${dir}/schedstat`, 'utf8').catch(() => ''),
      readFile(`${dir}/status`, 'utf8').catch(() => ''),
    ]);
    const [run, wait] = stat.split(' ').map(Number);
    const voluntary = Number(/^voluntary_ctxt_switches:\s+(\d+)/m.exec(status)?.[1] ?? 0);
    const preempted = Number(/^nonvoluntary_ctxt_switches:\s+(\d+)/m.exec(status)?.[1] ?? 0);
    total.runUs += (run ?? 0) / 1000;
    total.waitUs += (wait ?? 0) / 1000;
    total.switches += voluntary + preempted;
    total.preempted += preempted;
  }
  return total;
}

/** CPU ms so far by group of processes (each group's pids together). */
export async function cpuSplit(
  groups: Record<string, number[]>,
  part: 'all' | 'system' = 'all',
): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const [name, pids] of Object.entries(groups)) out[name] = await cpuMsOf(pids, part);
  return out;
}

/**
 * How `cpuOnceSettled` tells work from idling: a look every `lookMs`; idle when the processes together
 * used under `idleShare` of a core since the look before (timers, a lease renewal).
 */
export const CPU_SETTLE = { lookMs: 200, idleShare: 0.05, timeoutMs: 60_000 };

const sumAll = (cpu: Record<string, number>) => Object.values(cpu).reduce((a, b) => a + b, 0);

/**
 * The CPU of `groups` once their work is done, read every CPU_SETTLE.lookMs until a look finds them idle
 * since the one before, whose reading it returns (`at`: when, epoch ms): the idle span is not counted.
 * The last message's arrival leaves work behind (the receipts it brings back are recorded, a webhook's
 * delivery is written), and a stack with a backlog still has it to do then.
 */
export async function cpuOnceSettled(groups: Record<string, number[]>) {
  const read = async () => ({
    all: await cpuSplit(groups),
    system: await cpuSplit(groups, 'system'),
    at: Date.now(),
  });
  let last = await read();
  const started = last.at;
  while (last.at - started < CPU_SETTLE.timeoutMs) {
    await sleep(CPU_SETTLE.lookMs);
    const next = await read();
    if ((sumAll(next.all) - sumAll(last.all)) / (next.at - last.at) < CPU_SETTLE.idleShare) break;
    last = next;
  }
  return last;
}

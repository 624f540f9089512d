// Gives the memory of a past burst back to the system once the process has been quiet for a while.
//
// V8 keeps the heap pages a garbage collection frees for its own later use: after a host linked or
// resumed hundreds of sessions (its heap at two or three times its idle size for a minute), an ordinary
// collection shrinks the heap but the process keeps the pages, and Node never asks V8 to let go of them
// (only a last-resort collection does). A host with 500 idle sessions held some 200 MiB that way. The
// collection that lets go stops the process for a few hundred ms and drops its compiled code (the next
// requests compile it again), so it runs only when there is much to give back and nothing is going on.
import { performance } from 'node:perf_hooks';
import { getHeapStatistics, setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

const MiB = 1024 * 1024;

export type GiveBackOptions = {
  /** How often the heap and the event loop are looked at. */
  sampleMs: number;
  /** Samples in a row with the loop busy less than `busyBelow` of the time before memory is given back. */
  quietSamples: number;
  busyBelow: number;
  /**
   * How far the memory outside V8's heap and Node's buffers must have grown over its lowest point since
   * the last give-back: the pages V8 holds unused count there, not in the heap's size.
   */
  minGrowthBytes: number;
};

export const GIVE_BACK: GiveBackOptions = {
  sampleMs: 10_000,
  quietSamples: 3,
  busyBelow: 0.1,
  minGrowthBytes: 64 * MiB,
};

/** What one give-back freed, as the process's resident set saw it, and how long it stopped the process. */
export type GivenBack = { freedBytes: number; pauseMs: number };

type LastResortGc = (options: { type: 'major'; execution: 'sync'; flavor: 'last-resort' }) => void;

/** V8's `gc`, without putting it in the process's global scope when Node was not started with --expose-gc. */
function lastResortGc(): LastResortGc {
  const exposed = (globalThis as { gc?: LastResortGc }).gc;
  if (exposed) return exposed;
  setFlagsFromString('--expose-gc');
  return runInNewContext('gc') as LastResortGc;
}

/** The resident memory V8's heap and Node's buffers do not account for. */
function outsideHeap(): number {
  const heap = getHeapStatistics();
  return process.memoryUsage.rss() - heap.total_physical_size - heap.external_memory;
}

/** Watches the memory and the event loop, and gives memory back when both say so. */
export class MemoryGiveBack {
  private floor = outsideHeap();
  private quiet = 0;
  private loop = performance.eventLoopUtilization();
  private readonly timer: NodeJS.Timeout;
  private gc: LastResortGc | undefined;

  constructor(
    private readonly onGiveBack: (given: GivenBack) => void,
    private readonly options: GiveBackOptions = GIVE_BACK,
  ) {
    this.timer = setInterval(() => this.sample(), options.sampleMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  private sample() {
    const now = performance.eventLoopUtilization();
    const busy = performance.eventLoopUtilization(now, this.loop).utilization;
    this.loop = now;
    const outside = outsideHeap();
    this.floor = Math.min(this.floor, outside);
    this.quiet = busy < this.options.busyBelow ? this.quiet + 1 : 0;
    if (this.quiet < this.options.quietSamples || outside - this.floor < this.options.minGrowthBytes) return;
    this.gc ??= lastResortGc();
    const before = process.memoryUsage.rss();
    const started = performance.now();
    this.gc({ type: 'major', execution: 'sync', flavor: 'last-resort' });
    const pauseMs = performance.now() - started;
    this.floor = outsideHeap(); // what stays outside the heap is native memory of its own: not again
    this.quiet = 0;
    this.loop = performance.eventLoopUtilization(); // the collection itself is not traffic
    this.onGiveBack({ freedBytes: before - process.memoryUsage.rss(), pauseMs });
  }
}

let shared: { giveBack: MemoryGiveBack; holders: Set<(given: GivenBack) => void> } | undefined;

/**
 * One watcher per process, however many hosts run in it (tests, `npm start`): every holder hears of
 * every give-back. Returns the release; the last release stops the watcher.
 */
export function holdMemoryGiveBack(onGiveBack: (given: GivenBack) => void): () => void {
  if (!shared) {
    const holders = new Set<(given: GivenBack) => void>();
    shared = {
      holders,
      giveBack: new MemoryGiveBack((given) => {
        for (const hear of holders) hear(given);
      }),
    };
  }
  const held = shared;
  const holder = (given: GivenBack) => onGiveBack(given); // its own entry, even for the same function
  held.holders.add(holder);
  return () => {
    held.holders.delete(holder);
    if (held.holders.size > 0 || shared !== held) return;
    held.giveBack.stop();
    shared = undefined;
  };
}

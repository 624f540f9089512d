// Gives the memory of a past burst back to the system once the process has been quiet for a while.
//
// V8 keeps the heap pages a garbage collection frees for its own later use: after a host linked or
// resumed hundreds of sessions (its heap at two or three times its idle size for a minute), an ordinary
// collection shrinks the heap but the process keeps the pages, and Node never asks V8 to let go of them
// (only a last-resort collection does). A host with 500 idle sessions held some 200 MiB that way. The
// collection that lets go stops the process for a few hundred ms and drops its compiled code (the next
// requests compile it again), so it runs only when there is much to give back and nothing is going on.
import { performance } from 'node:perf_hooks';
import { getHeapSpaceStatistics, getHeapStatistics, setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

const MiB = 1024 * 1024;

export type GiveBackOptions = {
  /** How often the heap and the event loop are looked at. */
  sampleMs: number;
  /** Samples in a row with the loop busy less than `busyBelow` of the time before memory is given back. */
  quietSamples: number;
  busyBelow: number;
  /**
   * How far the resident memory holding nothing live (`unused` below) must have grown over its lowest
   * point since the last give-back.
   */
  minGrowthBytes: number;
  /** The least time between two give-backs, whatever happens. */
  minGapMs: number;
};

export const GIVE_BACK: GiveBackOptions = {
  sampleMs: 5_000,
  quietSamples: 12,
  busyBelow: 0.1,
  minGrowthBytes: 64 * MiB,
  minGapMs: 60_000,
};

/** What one give-back freed, as the process's resident set saw it, and how long it stopped the process. */
export type GivenBack = { freedBytes: number; pauseMs: number };

/** One look: how busy the loop was since the last, and the memory holding nothing live against its floor. */
export type MemorySample = { busy: number; unusedBytes: number; floorBytes: number; quietSamples: number };

export type GiveBackListener = {
  gaveBack(given: GivenBack): void;
  /** Every look, given back or not (for a debug log). */
  sampled?(sample: MemorySample): void;
};

type LastResortGc = (options: { type: 'major'; execution: 'sync'; flavor: 'last-resort' }) => void;

/** V8's `gc`, without putting it in the process's global scope when Node was not started with --expose-gc. */
function lastResortGc(): LastResortGc {
  const exposed = (globalThis as { gc?: LastResortGc }).gc;
  if (exposed) return exposed;
  setFlagsFromString('--expose-gc');
  return runInNewContext('gc') as LastResortGc;
}

/**
 * The resident memory beyond V8's live objects and Node's buffers: the old generation's free space, the
 * pages V8 keeps for later, and the process's own (its code, native state). Only the first two come
 * back. The young generation's free space is left out: V8 sizes it to the traffic and it fills again
 * with the next request.
 */
function unused(): number {
  const heap = getHeapStatistics();
  const young = getHeapSpaceStatistics().find((space) => space.space_name === 'new_space');
  const youngFree = young ? young.space_size - young.space_used_size : 0;
  return process.memoryUsage.rss() - heap.used_heap_size - heap.external_memory - youngFree;
}

/** Watches the memory and the event loop, and gives memory back when both say so. */
export class MemoryGiveBack {
  private floor = unused();
  private last = Number.NEGATIVE_INFINITY;
  private quiet = 0;
  private loop = performance.eventLoopUtilization();
  private readonly timer: NodeJS.Timeout;
  private gc: LastResortGc | undefined;

  constructor(
    private readonly listener: GiveBackListener,
    private readonly options: GiveBackOptions = GIVE_BACK,
  ) {
    this.timer = setInterval(() => this.sample(), options.sampleMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  private sample() {
    const loop = performance.eventLoopUtilization();
    const busy = performance.eventLoopUtilization(loop, this.loop).utilization;
    this.loop = loop;
    const left = unused();
    this.floor = Math.min(this.floor, left);
    this.quiet = busy < this.options.busyBelow ? this.quiet + 1 : 0;
    this.listener.sampled?.({ busy, unusedBytes: left, floorBytes: this.floor, quietSamples: this.quiet });
    const due =
      this.quiet >= this.options.quietSamples &&
      left - this.floor >= this.options.minGrowthBytes &&
      performance.now() - this.last >= this.options.minGapMs;
    if (!due) return;
    this.gc ??= lastResortGc();
    const before = process.memoryUsage.rss();
    const started = performance.now();
    this.gc({ type: 'major', execution: 'sync', flavor: 'last-resort' });
    this.last = performance.now();
    const pauseMs = this.last - started;
    this.floor = unused(); // what such a collection leaves is the process's own: not again for that
    this.quiet = 0;
    this.loop = performance.eventLoopUtilization(); // the collection itself is not traffic
    this.listener.gaveBack({ freedBytes: before - process.memoryUsage.rss(), pauseMs });
  }
}

let shared: { giveBack: MemoryGiveBack; listeners: Set<GiveBackListener> } | undefined;

/**
 * One watcher per process, however many hosts run in it (tests, `npm start`): every holder hears of
 * every look and give-back. Returns the release; the last release stops the watcher.
 */
export function holdMemoryGiveBack(listener: GiveBackListener): () => void {
  if (!shared) {
    const listeners = new Set<GiveBackListener>();
    shared = {
      listeners,
      giveBack: new MemoryGiveBack({
        gaveBack: (given) => {
          for (const l of listeners) l.gaveBack(given);
        },
        sampled: (sample) => {
          for (const l of listeners) l.sampled?.(sample);
        },
      }),
    };
  }
  const held = shared;
  const own = { ...listener }; // its own entry, even for a listener held twice
  held.listeners.add(own);
  return () => {
    held.listeners.delete(own);
    if (held.listeners.size > 0 || shared !== held) return;
    held.giveBack.stop();
    shared = undefined;
  };
}

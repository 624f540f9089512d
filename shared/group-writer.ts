// Group commit: writes submitted while one is under way wait and then go together as the next one, so
// many small writes (a host's sessions' keys and statuses, an edge's concurrent sends) cost one statement
// and one commit, not one each. An idle writer waits only for the end of the event loop's turn: under
// load one turn runs the callbacks of many sockets, and what they submit goes in one write.

type Waiting<T, R> = { item: T; resolve: (result: R) => void; reject: (error: unknown) => void };

/**
 * Runs `fn` once the callbacks of this turn of the event loop have run (`setImmediate`); in a runtime
 * without it, at once. Measured at one and ten sessions, the host's and the edge's writers joined more
 * and every message cost less CPU (BENCHMARKS.md, forty-first round).
 */
const endOfTurn: (fn: () => void) => void =
  typeof setImmediate === 'function' ? (fn) => setImmediate(fn) : (fn) => fn();

export class GroupWriter<T, R> {
  private queue: Waiting<T, R>[] = [];
  private busy = false;

  /**
   * `write` takes the items in submission order and answers one result per item, in the same order; an
   * Error as an item's result rejects that item alone (a write refused for its session, not the batch's).
   */
  constructor(
    private readonly write: (items: T[]) => Promise<(R | Error)[]>,
    private readonly maxBatch = 256,
  ) {}

  submit(item: T): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      this.queue.push({ item, resolve, reject });
      if (this.busy) return;
      this.busy = true;
      endOfTurn(() => void this.drain());
    });
  }

  private async drain() {
    try {
      while (this.queue.length > 0) {
        const batch = this.queue.splice(0, this.maxBatch);
        try {
          settle(batch, await this.write(batch.map((w) => w.item)));
        } catch (error) {
          if (batch.length === 1) batch[0]?.reject(error);
          // One bad item must not fail the others: each goes again alone.
          else for (const w of batch) await this.write([w.item]).then((r) => settle([w], r), w.reject);
        }
      }
    } finally {
      this.busy = false;
    }
  }
}

function settle<T, R>(batch: Waiting<T, R>[], results: (R | Error)[]) {
  batch.forEach((w, i) => {
    const result = results[i];
    if (result instanceof Error) w.reject(result);
    else w.resolve(result as R);
  });
}

/**
 * One writer per database handle (made by `make` on first use): requests that share a handle share its
 * group commits, and a handle no longer used takes its writer with it.
 */
export function writerPerHandle<H extends object, T, R>(
  make: (handle: H) => GroupWriter<T, R>,
): (handle: H) => GroupWriter<T, R> {
  const writers = new WeakMap<H, GroupWriter<T, R>>();
  return (handle) => {
    let writer = writers.get(handle);
    if (!writer) {
      writer = make(handle);
      writers.set(handle, writer);
    }
    return writer;
  };
}

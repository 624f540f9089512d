// Reads under way, by key, per database handle: requests that miss a cache together wait on one read
// rather than each making its own (a burst when an entry ages out). Per handle because a Worker's handle
// is its request's own, and a Worker may not wait on I/O another request started; on Node and Deno the
// handle is the process's one pool, so there every request shares.

type Under<T> = { tag: unknown; value: Promise<T> };

export class SharedReads<T> {
  readonly #under = new WeakMap<object, Map<string, Under<T>>>();

  /**
   * The read of `key` under way on `db` if it began with the same `tag` (`joined`), else a new one by
   * `read`. A caller that must not get what was read before some change passes a tag that changed with it.
   */
  share(
    db: object,
    key: string,
    tag: unknown,
    read: () => Promise<T>,
  ): { value: Promise<T>; joined: boolean } {
    let reads = this.#under.get(db);
    if (!reads) {
      reads = new Map();
      this.#under.set(db, reads);
    }
    const under = reads.get(key);
    if (under && under.tag === tag) return { value: under.value, joined: true };
    const entry = { tag, value: read() };
    reads.set(key, entry);
    const done = () => {
      if (reads.get(key) === entry) reads.delete(key);
    };
    entry.value.then(done, done);
    return { value: entry.value, joined: false };
  }
}

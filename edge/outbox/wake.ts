// Waking a session's outbox on its host after a message was queued, one call at a time per session.
// A burst of messages for one session would otherwise cost the edge and the host an HTTP call each,
// though the host's outbox takes everything queued at its next look.

/**
 * Calls `call` for the session unless one is under way; then one more call goes after it, shared by
 * every request that queued meanwhile. Each caller's promise settles with a call that began after it
 * asked, so after its message was committed: the outbox's next look cannot miss it.
 */
export function outboxWaker(): (sessionId: string, call: () => Promise<void>) => Promise<void> {
  const bySession = new Map<
    string,
    { running: Promise<void>; next?: { call: () => Promise<void>; done: Deferred } }
  >();
  const run = (sessionId: string, call: () => Promise<void>): Promise<void> => {
    const running = call().finally(() => {
      const state = bySession.get(sessionId);
      const next = state?.next;
      if (!state || !next) {
        bySession.delete(sessionId);
        return;
      }
      state.next = undefined;
      state.running = run(sessionId, next.call);
      state.running.then(next.done.resolve, next.done.reject);
    });
    return running;
  };
  return (sessionId, call) => {
    const state = bySession.get(sessionId);
    if (!state) {
      const entry = { running: Promise.resolve() };
      bySession.set(sessionId, entry);
      entry.running = run(sessionId, call);
      return entry.running;
    }
    state.next ??= { call, done: deferred() };
    return state.next.done.promise;
  };
}

type Deferred = { promise: Promise<void>; resolve: () => void; reject: (reason: unknown) => void };

function deferred(): Deferred {
  let resolve: () => void = () => {};
  let reject: (reason: unknown) => void = () => {};
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

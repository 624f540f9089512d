// Waking a session's outbox on its host after a message was queued, one call at a time per session.
// A burst of messages for one session would otherwise cost the edge and the host an HTTP call each,
// though the host's outbox takes everything queued at its next look.

type Next = { call: () => Promise<void>; done: Deferred };

/**
 * Calls `call` for the session unless one is under way; then one more call goes after it, shared by
 * every request that queued meanwhile. Each caller's promise settles with a call that began after it
 * asked, so after its message was committed: the outbox's next look cannot miss it.
 */
export function outboxWaker(): (sessionId: string, call: () => Promise<void>) => Promise<void> {
  // A session is here while a call for it is under way, with the call to make after it, if any.
  const underWay = new Map<string, Next | undefined>();
  const run = (sessionId: string, call: () => Promise<void>): Promise<void> =>
    call().finally(() => {
      const next = underWay.get(sessionId);
      if (!next) {
        underWay.delete(sessionId);
        return;
      }
      underWay.set(sessionId, undefined);
      run(sessionId, next.call).then(next.done.resolve, next.done.reject);
    });
  return (sessionId, call) => {
    if (!underWay.has(sessionId)) {
      underWay.set(sessionId, undefined);
      return run(sessionId, call);
    }
    let next = underWay.get(sessionId);
    if (!next) {
      next = { call, done: deferred() };
      underWay.set(sessionId, next);
    }
    return next.done.promise;
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

// Preloaded (`--import`) into processes the bench measures, when they are spawned with an IPC channel:
// answers `{ type: 'bench:memory', id, gc }` with process.memoryUsage(), after a full GC when asked and
// the process runs with --expose-gc. It changes nothing else in the process.
type MemoryRequest = { type: 'bench:memory'; id: number; gc?: boolean };

const isMemoryRequest = (m: unknown): m is MemoryRequest =>
  typeof m === 'object' && m !== null && (m as { type?: unknown }).type === 'bench:memory';

if (process.send) {
  process.on('message', (message: unknown) => {
    if (!isMemoryRequest(message)) return;
    const gc = (globalThis as { gc?: () => void }).gc;
    if (message.gc && gc) {
      // Twice: the first pass can leave weakly held and finalizable objects for the second.
      gc();
      gc();
    }
    const { rss, heapTotal, heapUsed, external, arrayBuffers } = process.memoryUsage();
    process.send?.({
      type: 'bench:memory',
      id: message.id,
      rss,
      heapTotal,
      heapUsed,
      external,
      arrayBuffers,
    });
  });
  // The channel must not keep a process alive that would otherwise exit.
  process.channel?.unref();
}

// The host gives the memory of a burst back once quiet (node-runtime/memory/give-back.ts): a scenario
// that linked many sessions waits for that before it measures, as a deployment runs long after linking,
// and so that the pause and the recompiling after it do not fall inside a measured run.
import { sleep } from './stats.js';

/** How many times the host (or the stack) at `hostUrl` gave memory back: its `wa_memory_give_backs_total`. */
export async function giveBacksOf(hostUrl: string): Promise<number> {
  const text = await (await fetch(`${hostUrl}/metrics`)).text();
  return Number(/^wa_memory_give_backs_total (\d+)$/m.exec(text)?.[1] ?? 0);
}

/** Waits until the host has given memory back more than `before` times; false if not within `timeoutMs`. */
export async function untilGivenBack(hostUrl: string, before: number, timeoutMs = 120_000): Promise<boolean> {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    if ((await giveBacksOf(hostUrl)) > before) return true;
    await sleep(1_000);
  }
  return false;
}

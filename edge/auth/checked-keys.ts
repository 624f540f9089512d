// Keys this edge authenticated lately, with their shape and digest, so a key in use is not checked and
// hashed again on every request (the shape check and SHA-256 were ~4% of the edge's time per status
// call). Only keys that passed authentication go in, so made-up keys cannot fill it, and a key refused
// comes out. It says nothing about validity: every request still goes through the key cache and all its
// checks. In this process's memory only, never logged or stored; bounded, oldest first out.
import type { PresentedKeyClass } from '../../shared/api-key.js';
import { setNewest } from '../../shared/bounded-map.js';

export interface CheckedKey {
  shape: Extract<PresentedKeyClass, { ok: true }>;
  digest: Uint8Array;
}

export class CheckedKeys {
  readonly #entries = new Map<string, CheckedKey>();
  readonly #max: number;

  /** `max` 0 keeps nothing. */
  constructor(max: number) {
    this.#max = max;
  }

  get(key: string): CheckedKey | undefined {
    return this.#entries.get(key);
  }

  remember(key: string, checked: CheckedKey): void {
    if (this.#max === 0 || this.#entries.has(key)) return;
    setNewest(this.#entries, key, checked, this.#max);
  }

  forget(key: string): void {
    this.#entries.delete(key);
  }

  get size(): number {
    return this.#entries.size;
  }
}

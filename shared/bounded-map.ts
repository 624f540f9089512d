// Maps used as small caches keep their entries in insertion order: the first key is the oldest.

/** Sets `key` as the newest entry of `map`, then drops the oldest entries past `max`. */
export function setNewest<K, V>(map: Map<K, V>, key: K, value: V, max: number): void {
  map.delete(key);
  map.set(key, value);
  while (map.size > max) {
    const oldest = map.keys().next();
    if (oldest.done) return;
    map.delete(oldest.value);
  }
}

/**
 * A connection idle this long is closed: a host or edge at rest keeps one or two, not a busy hour's
 * worth (each PostgreSQL backend holds some 4 MiB of its own). Opening one again costs a few ms.
 */
export const POOL_IDLE_SECONDS = 15;

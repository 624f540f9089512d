// PostgreSQL's asynchronous commit for one statement: its commit returns once the commit record is in the
// WAL buffers, without waiting for the WAL to reach disk (PostgreSQL's WAL writer does that within a few
// hundred ms). Nothing is corrupted either way; what a crash of PostgreSQL itself (not of a host or an
// edge: PostgreSQL already has their commits) can lose is the last such commits. So it is only for
// writes that a later synchronous commit makes durable before anyone relies on them (the WAL reaches
// disk in order: flushing a commit flushes everything before it), or that the gateway redoes by itself
// after a crash. Never for Signal keys, nor for what a client was told is stored.
import { sql } from 'kysely';

/**
 * A column for a statement that writes: with `relaxed`, the statement's own transaction commits
 * asynchronously (`set_config(..., true)` lasts until the end of the transaction, so the connection's
 * next statement commits as configured again). Inside a transaction (`db` is one) it is always a null:
 * the setting would reach the transaction's other writes. The column is there either way, so a
 * statement's rows keep one shape.
 */
export const asyncCommitIf = (db: { readonly isTransaction: boolean }, relaxed: boolean) =>
  relaxed && !db.isTransaction
    ? sql<string>`set_config('synchronous_commit', 'off', true)`
    : sql<null>`null::text`;

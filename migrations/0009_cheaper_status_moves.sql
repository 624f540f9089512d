-- 0009_cheaper_status_moves: fewer index writes per message.
--
-- A message's status moves (sent, delivered, read) become heap-only updates, which write no index
-- entries: PostgreSQL does that only when no indexed column changes and the page has room. The outbox's
-- index named `status` in its predicate, so every move wrote a new entry in each of the table's indexes.
-- The queue is now indexed by `queue_seq`, which is `outbox_seq` while the message is queued and null once
-- it left: only leaving the queue changes it, and the moves after that touch no indexed column. Pages keep
-- a fifth free for the updated rows.
ALTER TABLE messages ADD COLUMN queue_seq bigint
  GENERATED ALWAYS AS (CASE WHEN status = 'queued' THEN outbox_seq END) STORED;
DROP INDEX messages_outbox_idx;
CREATE INDEX messages_queue_idx ON messages (session_id, queue_seq) WHERE queue_seq IS NOT NULL;
ALTER TABLE messages SET (fillfactor = 80);

-- Every status move writes an event. Retention finds old events by their id (a ULID begins with its
-- time), so the index on created_at, one more write per event, goes.
DROP INDEX events_created_at_idx;

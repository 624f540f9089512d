-- 0006_outbox_media: files waiting to be sent. A message with a file (POST /api/messages with media)
-- keeps the file here from the moment it is queued until it left (or failed, or was cancelled); the
-- messages row's `content.media.id` names it. A file fetched from a URL is stored first, unclaimed
-- (message_id null), and claimed by the message in the transaction that queues it.
CREATE TABLE outbox_media (
  id          uuid PRIMARY KEY,
  session_id  uuid NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
  message_id  text,
  mimetype    text NOT NULL,
  data        bytea NOT NULL,
  created_at  timestamptz NOT NULL DEFAULT now()
);
-- The sweep: files never claimed, and files of messages that are no longer queued.
CREATE INDEX outbox_media_session_message_idx ON outbox_media (session_id, message_id);
CREATE INDEX outbox_media_created_at_idx ON outbox_media (created_at);

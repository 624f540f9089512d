-- 0005_outbox_idempotency_pacing: every send goes through a durable outbox (the message row, `queued`,
-- with the WhatsApp id it will carry), Idempotency-Key records, and per-session pacing.

-- Queue order of the outbox; set when a message is queued.
CREATE SEQUENCE messages_outbox_seq;
ALTER TABLE messages ADD COLUMN outbox_seq bigint;
-- A queued message not sent by then fails ('expired').
ALTER TABLE messages ADD COLUMN expires_at timestamptz;
-- Times it was handed to WhatsApp (a resend after a crash carries the same id).
ALTER TABLE messages ADD COLUMN attempts integer NOT NULL DEFAULT 0;
CREATE INDEX messages_outbox_idx ON messages (session_id, outbox_seq) WHERE status = 'queued';

-- Idempotency-Key: the first request's hash and, once it is final, its answer (status and body), for 24
-- hours. Scoped to the session, like the key that made it.
CREATE TABLE idempotency_keys (
  session_id      uuid NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
  key             text NOT NULL,
  -- Which route and body the key was first used with (SHA-256).
  request_hash    bytea NOT NULL,
  -- The message the request queued.
  message_id      text NOT NULL,
  response_status smallint,
  response_body   jsonb,
  -- While no answer is stored: the request holding the key until then (a later one gets 409); a request
  -- that died lets go when this passes.
  locked_until    timestamptz,
  created_at      timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (session_id, key)
);
CREATE INDEX idempotency_keys_created_at_idx ON idempotency_keys (created_at);

-- The tenant admin's pacing for this session (null: the deployment's defaults), and when the host plans
-- to send the session's next queued message (for admins to see).
ALTER TABLE sessions ADD COLUMN pacing jsonb;
ALTER TABLE sessions ADD COLUMN outbox_next_at timestamptz;

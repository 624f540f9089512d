-- 0010_outbox_notify: a host hears that messages were queued for one of its sessions from PostgreSQL, on
-- commit, instead of from the edge over HTTP: the edge answers without waiting for the host, queues
-- messages whether or not the host can be reached, and pays no call per message. The payload is the
-- session's id; every host listens, and the one running the session looks at its outbox (the others
-- ignore it). A notification lost with a dropped connection costs only the wait until the host's next
-- regular look.
CREATE FUNCTION messages_queued_notify() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  -- One notification per session and transaction: PostgreSQL folds identical ones.
  PERFORM pg_notify('outbox_queued', q.session_id::text)
  FROM (SELECT DISTINCT session_id FROM queued WHERE status = 'queued') q;
  RETURN NULL;
END;
$$;
CREATE TRIGGER messages_queued_notify AFTER INSERT ON messages
  REFERENCING NEW TABLE AS queued
  FOR EACH STATEMENT EXECUTE FUNCTION messages_queued_notify();

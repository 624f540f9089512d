-- 0004_messages_events_webhooks: the message store, the event log, webhook endpoints and their
-- durable delivery queue.

-- Every message in and out of a session. `id` is WhatsApp's message id. Chats and senders are kept as
-- the phone-number JID whenever the mapping is known, with the LID beside it.
CREATE TABLE messages (
  session_id   uuid NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
  id           text NOT NULL,
  tenant_id    uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
  direction    text NOT NULL CHECK (direction IN ('in', 'out')),
  chat_jid     text NOT NULL,
  chat_lid     text,
  sender_jid   text,
  sender_lid   text,
  -- 'text', 'unknown', ... (later: media, location, ...)
  kind         text NOT NULL,
  text         text,
  -- The message's own fields beyond text (quoted message, ...), as the API shows them.
  content      jsonb NOT NULL DEFAULT '{}'::jsonb,
  -- WhatsApp's timestamp of the message.
  sent_at      timestamptz NOT NULL,
  -- Outbound only: queued -> sent (server ack) -> delivered -> read -> played, or failed / cancelled.
  status       text CHECK (status IN ('queued', 'sent', 'delivered', 'read', 'played', 'failed', 'cancelled')),
  -- Statuses only move forward: an update applies only to a row of a lower rank.
  status_rank  smallint NOT NULL DEFAULT 0,
  status_at    timestamptz,
  failure      text,
  -- 'api' (sent through the gateway) or 'phone' (sent from the account's own phone).
  source       text,
  created_at   timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (session_id, id)
);
CREATE INDEX messages_chat_idx ON messages (session_id, chat_jid, sent_at DESC, id DESC);
CREATE INDEX messages_session_sent_idx ON messages (session_id, sent_at DESC, id DESC);
CREATE INDEX messages_created_at_idx ON messages (created_at);

-- The event log: one row per thing that happened, in the order of commit within a tenant (`seq`,
-- numbered by a trigger under a per-tenant lock held to commit, so a reader that has seen seq N has seen
-- everything before it). `id` is globally unique and sortable by time (a ULID).
CREATE TABLE events (
  id           text PRIMARY KEY,
  tenant_id    uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
  seq          bigint NOT NULL,
  session_id   uuid REFERENCES sessions (id) ON DELETE SET NULL,
  session_name text,
  type         text NOT NULL,
  data         jsonb NOT NULL,
  created_at   timestamptz NOT NULL DEFAULT now(),
  UNIQUE (tenant_id, seq)
);
CREATE INDEX events_session_seq_idx ON events (session_id, seq);
CREATE INDEX events_created_at_idx ON events (created_at);

CREATE TABLE webhook_endpoints (
  id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  tenant_id       uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
  url             text NOT NULL,
  description     text,
  -- Event types to deliver; NULL: all.
  event_types     text[],
  -- Only this session's events; NULL: every session of the tenant.
  session_id      uuid REFERENCES sessions (id) ON DELETE CASCADE,
  -- The signing secret, encrypted (AES-256-GCM, key from configuration): iv || ciphertext+tag.
  secret          bytea NOT NULL,
  -- The previous secret during a rotation's overlap: deliveries are signed with both until then.
  previous_secret bytea,
  previous_until  timestamptz,
  enabled         boolean NOT NULL DEFAULT true,
  disabled_reason text,
  -- Delivery state: one delivery in flight per endpoint (a lease), paused after a failure.
  next_attempt_at timestamptz NOT NULL DEFAULT now(),
  failing_since   timestamptz,
  lease_owner     text,
  lease_until     timestamptz,
  created_at      timestamptz NOT NULL DEFAULT now(),
  updated_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX webhook_endpoints_tenant_idx ON webhook_endpoints (tenant_id);
-- The same URL twice for the same sessions would deliver everything twice.
CREATE UNIQUE INDEX webhook_endpoints_url_idx
  ON webhook_endpoints (tenant_id, url, coalesce(session_id, '00000000-0000-0000-0000-000000000000'::uuid));
CREATE TRIGGER webhook_endpoints_set_updated_at BEFORE UPDATE ON webhook_endpoints
  FOR EACH ROW EXECUTE FUNCTION set_updated_at();

-- One row per event and endpoint: what must be delivered, and how far it got.
CREATE TABLE webhook_deliveries (
  id              bigserial PRIMARY KEY,
  endpoint_id     uuid NOT NULL REFERENCES webhook_endpoints (id) ON DELETE CASCADE,
  event_id        text NOT NULL REFERENCES events (id) ON DELETE CASCADE,
  event_seq       bigint NOT NULL,
  status          text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'delivered', 'dead')),
  attempts        integer NOT NULL DEFAULT 0,
  -- Set aside: it kept failing while later deliveries succeeded, so it no longer holds them up.
  parked          boolean NOT NULL DEFAULT false,
  next_attempt_at timestamptz NOT NULL DEFAULT now(),
  first_attempt_at timestamptz,
  delivered_at    timestamptz,
  created_at      timestamptz NOT NULL DEFAULT now(),
  UNIQUE (endpoint_id, event_id)
);
CREATE INDEX webhook_deliveries_pending_idx
  ON webhook_deliveries (endpoint_id, event_seq) WHERE status = 'pending';

-- The delivery log: every attempt. `seq` numbers an endpoint's attempts 1, 2, 3... (what the API calls
-- `id`: the global `id` would count other tenants' deliveries); its writer holds the endpoint's lease.
CREATE TABLE webhook_attempts (
  id              bigserial PRIMARY KEY,
  delivery_id     bigint NOT NULL REFERENCES webhook_deliveries (id) ON DELETE CASCADE,
  endpoint_id     uuid NOT NULL REFERENCES webhook_endpoints (id) ON DELETE CASCADE,
  seq             bigint NOT NULL,
  event_id        text NOT NULL,
  attempted_at    timestamptz NOT NULL DEFAULT now(),
  status_code     integer,
  latency_ms      integer,
  error           text,
  outcome         text NOT NULL CHECK (outcome IN ('delivered', 'failed', 'dead', 'disabled')),
  next_attempt_at timestamptz
);
CREATE UNIQUE INDEX webhook_attempts_endpoint_seq_idx ON webhook_attempts (endpoint_id, seq);

-- Numbers each event within its tenant and fans it out to the tenant's matching endpoints, in the
-- inserting transaction: an event and its deliveries exist together or not at all. The per-tenant lock
-- is held until commit, so a tenant's events commit in `seq` order.
CREATE FUNCTION events_number() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_advisory_xact_lock(hashtextextended('events:' || NEW.tenant_id::text, 0));
  SELECT coalesce(max(seq), 0) + 1 INTO NEW.seq FROM events WHERE tenant_id = NEW.tenant_id;
  RETURN NEW;
END;
$$;
CREATE TRIGGER events_number BEFORE INSERT ON events
  FOR EACH ROW EXECUTE FUNCTION events_number();

CREATE FUNCTION events_fan_out() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  -- A test event goes to the one endpoint it was made for (inserted by the caller).
  IF NEW.type = 'webhook.test' THEN
    RETURN NULL;
  END IF;
  INSERT INTO webhook_deliveries (endpoint_id, event_id, event_seq)
  SELECT e.id, NEW.id, NEW.seq
  FROM webhook_endpoints e
  WHERE e.tenant_id = NEW.tenant_id
    AND e.enabled
    AND (e.session_id IS NULL OR e.session_id = NEW.session_id)
    AND (e.event_types IS NULL OR NEW.type = ANY (e.event_types));
  RETURN NULL;
END;
$$;
CREATE TRIGGER events_fan_out AFTER INSERT ON events
  FOR EACH ROW EXECUTE FUNCTION events_fan_out();

-- 0001_init: tenants, API keys, sessions, Baileys auth state, hosts, audit log.
-- Frozen once released: change the schema in a new numbered file, never here.

-- Keeps updated_at honest without every UPDATE having to remember it.
CREATE FUNCTION set_updated_at() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  NEW.updated_at := now();
  RETURN NEW;
END;
$$;

CREATE TABLE tenants (
  id         uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  name       text NOT NULL,
  status     text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'suspended')),
  created_at timestamptz NOT NULL DEFAULT now()
);

-- Session hosts register themselves here; a host id is chosen by the host (hostname, pod name, uuid).
CREATE TABLE hosts (
  id           text PRIMARY KEY,
  internal_url text NOT NULL,
  heartbeat_at timestamptz NOT NULL DEFAULT now(),
  draining     boolean NOT NULL DEFAULT false,
  started_at   timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE sessions (
  id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  tenant_id    uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
  -- The seed's sessionId, as clients know it.
  name         text NOT NULL CHECK (name ~ '^[A-Za-z0-9_-]{1,64}$'),
  description  text,
  -- Mirrors the session actor's state; no CHECK so a new machine state needs no migration.
  state        text NOT NULL DEFAULT 'idle',
  account_jid  text,
  account_name text,
  -- A session outlives the host that ran it: it resumes elsewhere.
  host_id      text REFERENCES hosts (id) ON DELETE SET NULL,
  -- Fencing token: bumped on every change of owner, checked on every write by the owner.
  lease_epoch  bigint NOT NULL DEFAULT 0,
  created_at   timestamptz NOT NULL DEFAULT now(),
  updated_at   timestamptz NOT NULL DEFAULT now(),
  UNIQUE (tenant_id, name),
  -- Target of api_keys' composite foreign key, which pins a session key to its own tenant.
  UNIQUE (tenant_id, id)
);
CREATE INDEX sessions_host_id_idx ON sessions (host_id);
CREATE TRIGGER sessions_set_updated_at BEFORE UPDATE ON sessions
  FOR EACH ROW EXECUTE FUNCTION set_updated_at();

CREATE TABLE api_keys (
  id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  -- SHA-256 of the full key; the plaintext is never stored.
  digest        bytea NOT NULL UNIQUE CHECK (octet_length(digest) = 32),
  -- Short, non-secret beginning of the key, for listings and the audit log.
  prefix        text NOT NULL,
  scope         text NOT NULL CHECK (scope IN ('operator', 'admin', 'session')),
  tenant_id     uuid REFERENCES tenants (id) ON DELETE CASCADE,
  session_id    uuid,
  label         text,
  created_at    timestamptz NOT NULL DEFAULT now(),
  expires_at    timestamptz,
  revoked_at    timestamptz,
  last_used_at  timestamptz,
  -- Re-roll: the old key keeps working until overlap_until, then points at its successor.
  replaced_by   uuid REFERENCES api_keys (id) ON DELETE SET NULL,
  overlap_until timestamptz,
  -- A session key can only name a session of its own tenant.
  FOREIGN KEY (tenant_id, session_id) REFERENCES sessions (tenant_id, id) ON DELETE CASCADE,
  CHECK (
    (scope = 'operator' AND tenant_id IS NULL AND session_id IS NULL)
    OR (scope = 'admin' AND tenant_id IS NOT NULL AND session_id IS NULL)
    OR (scope = 'session' AND tenant_id IS NOT NULL AND session_id IS NOT NULL)
  )
);
CREATE INDEX api_keys_tenant_id_idx ON api_keys (tenant_id);
CREATE INDEX api_keys_session_id_idx ON api_keys (session_id);

-- Baileys auth state: JSON written with Baileys' BufferJSON (Buffers as base64), one row per session.
CREATE TABLE wa_creds (
  session_id uuid PRIMARY KEY REFERENCES sessions (id) ON DELETE CASCADE,
  creds      jsonb NOT NULL,
  updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE TRIGGER wa_creds_set_updated_at BEFORE UPDATE ON wa_creds
  FOR EACH ROW EXECUTE FUNCTION set_updated_at();

-- Signal keys (pre-keys, sessions, sender keys, app-state keys, ...), same encoding as wa_creds.
CREATE TABLE wa_keys (
  session_id uuid NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
  type       text NOT NULL,
  id         text NOT NULL,
  value      jsonb NOT NULL,
  PRIMARY KEY (session_id, type, id)
);

-- No foreign key to tenants: the record of what happened must survive the tenant's deletion.
CREATE TABLE audit_log (
  id        bigserial PRIMARY KEY,
  tenant_id uuid,
  -- Display prefix of the key that acted; never the key.
  actor     text,
  action    text NOT NULL,
  target    text,
  at        timestamptz NOT NULL DEFAULT now(),
  detail    jsonb NOT NULL DEFAULT '{}'::jsonb
);
CREATE INDEX audit_log_tenant_id_at_idx ON audit_log (tenant_id, at DESC);

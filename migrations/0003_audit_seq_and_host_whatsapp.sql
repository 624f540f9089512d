-- 0003_audit_seq_and_host_whatsapp:
-- 1. Audit entries are numbered per tenant (`seq`), so the ids a tenant sees count its own entries only;
--    the global `id` stays internal. A trigger numbers every insert under a per-tenant advisory lock
--    held until commit, so concurrent writers of one tenant get 1, 2, 3... without gaps or clashes.
-- 2. Hosts report whether they can reach WhatsApp, for /health.

ALTER TABLE audit_log ADD COLUMN seq bigint;

UPDATE audit_log AS a
SET seq = n.rn
FROM (SELECT id, row_number() OVER (PARTITION BY tenant_id ORDER BY id) AS rn FROM audit_log) AS n
WHERE a.id = n.id;

ALTER TABLE audit_log ALTER COLUMN seq SET NOT NULL;

CREATE UNIQUE INDEX audit_log_tenant_id_seq_idx ON audit_log (tenant_id, seq);

DROP INDEX audit_log_tenant_id_id_idx;

CREATE FUNCTION audit_log_number() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_advisory_xact_lock(hashtextextended('audit_log:' || coalesce(NEW.tenant_id::text, '-'), 0));
  SELECT coalesce(max(seq), 0) + 1 INTO NEW.seq
  FROM audit_log
  WHERE tenant_id IS NOT DISTINCT FROM NEW.tenant_id;
  RETURN NEW;
END;
$$;

CREATE TRIGGER audit_log_number BEFORE INSERT ON audit_log
  FOR EACH ROW EXECUTE FUNCTION audit_log_number();

-- 'unknown' until the host's first check; `whatsapp_error` says why it is unreachable.
ALTER TABLE hosts ADD COLUMN whatsapp text NOT NULL DEFAULT 'unknown'
  CHECK (whatsapp IN ('unknown', 'reachable', 'unreachable'));
ALTER TABLE hosts ADD COLUMN whatsapp_error text;
ALTER TABLE hosts ADD COLUMN whatsapp_checked_at timestamptz;

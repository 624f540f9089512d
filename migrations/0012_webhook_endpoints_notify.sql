-- 0012_webhook_endpoints_notify: hosts hear that a tenant's webhook endpoints were added, removed, or
-- turned on or off. A host's webhook worker that holds every one of a tenant's endpoints skips the claim
-- when the tenant's next event is written (node-runtime/webhooks/worker.ts): it counted them when it
-- claimed them. This tells it to count again, so a new endpoint's first deliveries go at once instead of
-- after the next poll. The payload is the tenant's id.
CREATE FUNCTION webhook_endpoints_changed() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify(
    'webhook_endpoints',
    (CASE WHEN TG_OP = 'DELETE' THEN OLD.tenant_id ELSE NEW.tenant_id END)::text
  );
  RETURN NULL;
END;
$$;
CREATE TRIGGER webhook_endpoints_added_or_removed AFTER INSERT OR DELETE ON webhook_endpoints
  FOR EACH ROW EXECUTE FUNCTION webhook_endpoints_changed();
-- Not on the worker's own updates (leases, retry times): only a change of `enabled` counts.
CREATE TRIGGER webhook_endpoints_turned AFTER UPDATE OF enabled ON webhook_endpoints
  FOR EACH ROW WHEN (OLD.enabled IS DISTINCT FROM NEW.enabled)
  EXECUTE FUNCTION webhook_endpoints_changed();

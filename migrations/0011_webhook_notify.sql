-- 0011_webhook_notify: every host hears that deliveries were queued for a tenant, on commit. A host
-- wakes its own webhook worker when it writes an event; this tells the others, whose worker may hold one
-- of the tenant's endpoints, caught up and waiting for its next event (node-runtime/webhooks/worker.ts).
-- The payload is the tenant's id and the writer's application_name, so the writer's own host can skip
-- it. A notification lost with a dropped connection costs only the wait until the endpoint is given back.
CREATE OR REPLACE FUNCTION events_fan_out() RETURNS trigger
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
  IF FOUND THEN
    -- One notification per tenant, writer and transaction: PostgreSQL folds identical ones.
    PERFORM pg_notify('webhook_due', NEW.tenant_id::text || ' ' || current_setting('application_name'));
  END IF;
  RETURN NULL;
END;
$$;

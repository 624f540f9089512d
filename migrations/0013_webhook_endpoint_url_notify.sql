-- 0013_webhook_endpoint_url_notify: a new URL is told to the hosts too (webhook_endpoints, as in 0012). An
-- admin's new URL makes the endpoint's deliveries due at once, retries that waited for the old one
-- included; the hosts' workers claim once on the notice instead of at their next poll. Still not on the
-- worker's own updates (leases, retry times).
DROP TRIGGER webhook_endpoints_turned ON webhook_endpoints;
CREATE TRIGGER webhook_endpoints_turned AFTER UPDATE OF enabled, url ON webhook_endpoints
  FOR EACH ROW WHEN (OLD.enabled IS DISTINCT FROM NEW.enabled OR OLD.url IS DISTINCT FROM NEW.url)
  EXECUTE FUNCTION webhook_endpoints_changed();

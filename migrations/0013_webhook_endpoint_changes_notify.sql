-- 0013_webhook_endpoint_changes_notify: a new URL or signing secret is told to the hosts too
-- (webhook_endpoints, as in 0012). A new URL makes the endpoint's deliveries due at once, retries that
-- waited for the old one included: the hosts' workers claim once on the notice instead of at their next
-- poll. An endpoint a worker holds (waiting for more, or with deliveries looked up) is given back at its
-- next look, which the notice brings forward to before its next delivery, and claimed afresh with its new
-- URL and secrets. Still not on the worker's own updates (leases, retry times).
DROP TRIGGER webhook_endpoints_turned ON webhook_endpoints;
CREATE TRIGGER webhook_endpoints_turned AFTER UPDATE OF enabled, url, secret ON webhook_endpoints
  FOR EACH ROW
  WHEN (OLD.enabled IS DISTINCT FROM NEW.enabled OR OLD.url IS DISTINCT FROM NEW.url
    OR OLD.secret IS DISTINCT FROM NEW.secret)
  EXECUTE FUNCTION webhook_endpoints_changed();

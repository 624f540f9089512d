-- 0007_host_capacity: how many sessions a host takes (HOST_MAX_SESSIONS; null: no limit). New sessions go
-- to the least-loaded live host that has room.
ALTER TABLE hosts ADD COLUMN max_sessions integer CHECK (max_sessions > 0);

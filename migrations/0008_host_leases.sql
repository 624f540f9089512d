-- 0008_host_leases: a host holds its sessions under a lease. `lease_until` is renewed with each heartbeat;
-- once it passes, the host has stopped its sockets (it fences itself first) and live hosts claim its
-- sessions, each claim bumping the session's lease_epoch. `instance` is the running process's own id:
-- a second process with the same host id is refused while the first one's lease holds.
ALTER TABLE hosts ADD COLUMN instance uuid;
ALTER TABLE hosts ADD COLUMN lease_until timestamptz;

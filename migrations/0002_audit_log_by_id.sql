-- 0002_audit_log_by_id: the audit log is read per tenant in id order (ids grow with every entry; `at` is
-- the transaction's start, so entries of one transaction share it and concurrent ones can interleave).
CREATE INDEX audit_log_tenant_id_id_idx ON audit_log (tenant_id, id);

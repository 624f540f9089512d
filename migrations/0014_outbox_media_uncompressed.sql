-- 0014_outbox_media_uncompressed: files waiting to be sent are stored as they are, without PostgreSQL
-- trying to compress them first. What people send (JPEG, PNG, MP4, Opus, most PDFs) is compressed
-- already, and pglz ran through most of a photo before it gave up: about 10 ms of PostgreSQL's CPU per
-- MiB, to store the same bytes. A file stays here only until its message has left.
ALTER TABLE outbox_media ALTER COLUMN data SET STORAGE EXTERNAL;

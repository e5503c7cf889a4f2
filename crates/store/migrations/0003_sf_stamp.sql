-- upsight schema, version 3: each record's Salesforce LastModifiedDate, as a sync read it.
--
-- Whole seconds since the epoch, set only when the sync read the record with no open
-- change-log entry and the stamp had settled (at least two seconds older than the server's
-- clock at the read), in the same transaction as the values it read. A push may then write
-- the record without reading it first, under If-Unmodified-Since this stamp: Salesforce
-- applies the write only if nobody changed the record since that sync, which is exactly
-- when the stored values are still Salesforce's. NULL when unknown; a push clears it before
-- it writes the record, since our own write moves the record's LastModifiedDate on.

ALTER TABLE account ADD COLUMN sf_stamp INTEGER;
ALTER TABLE opportunity ADD COLUMN sf_stamp INTEGER;

-- upsight schema, version 4: why Salesforce stopped returning an account.
--
-- A sync that finds accounts missing asks Salesforce's Recycle Bin (queryAll, IsDeleted and
-- MasterRecordId) and records the answer: 'deleted', 'merged' (sf_merged_into then holds the
-- Salesforce Id of the record that was kept) or 'not_visible' (not returned even by
-- queryAll: no access, or purged). Both are NULL while the account is returned, and are
-- cleared with sf_missing_since when it is returned again.

ALTER TABLE account ADD COLUMN sf_missing_reason TEXT;
ALTER TABLE account ADD COLUMN sf_merged_into TEXT;

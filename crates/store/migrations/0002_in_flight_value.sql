-- upsight schema, version 2: the value a push has in flight for a change-log entry.
--
-- A push writes the value it is about to send here, in a committed transaction, before the
-- request goes out, and clears it once Salesforce's answer is recorded. If the process dies
-- after Salesforce accepted the update but before the status was written, and the user then
-- edits the field again (the edit merges into the still-pending entry), the next push's
-- drift check finds Salesforce holding this value: our own write, not a colleague's, so it
-- is not a conflict. NULL when nothing is in flight. JSON, like old_value and new_value.

ALTER TABLE change_log ADD COLUMN in_flight_value TEXT
    CHECK (in_flight_value IS NULL OR json_valid(in_flight_value));

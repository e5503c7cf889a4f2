-- upsight schema, version 1. Released migrations are never edited: change the schema with a
-- new numbered file. Timestamps are RFC 3339 UTC text written by SQLite itself.
--
-- Salesforce field values live in one JSON object per record (`fields`), keyed by API name,
-- so the field map stays data: a user override that adds a field needs no migration. One row
-- per account also keeps the 5,000-account list a single index scan with no pivot, and a
-- pull writes one row per record. JSON1 (json_extract) can still filter or sort on a field.

CREATE TABLE account (
    id               INTEGER PRIMARY KEY,
    sf_id            TEXT UNIQUE,                 -- NULL until linked to Salesforce
    name             TEXT NOT NULL,
    fields           TEXT NOT NULL DEFAULT '{}'
                     CHECK (json_valid(fields) AND json_type(fields) = 'object'),
    quick_links      TEXT NOT NULL DEFAULT '{}'
                     CHECK (json_valid(quick_links) AND json_type(quick_links) = 'object'),
    synced_at        TEXT,
    sf_missing_since TEXT,                        -- Salesforce stopped returning it
    created_at       TEXT NOT NULL,
    updated_at       TEXT NOT NULL
);
CREATE INDEX account_by_name ON account (name COLLATE NOCASE, id);

CREATE TABLE opportunity (
    id          INTEGER PRIMARY KEY,
    sf_id       TEXT NOT NULL UNIQUE,
    account_id  INTEGER NOT NULL REFERENCES account (id) ON DELETE CASCADE,
    name        TEXT NOT NULL,
    fields      TEXT NOT NULL DEFAULT '{}'
                CHECK (json_valid(fields) AND json_type(fields) = 'object'),
    synced_at   TEXT NOT NULL,
    created_at  TEXT NOT NULL
);
CREATE INDEX opportunity_by_account ON opportunity (account_id);

-- The durable outbox of edits. `account_id` is the edited account, or the edited
-- opportunity's account, so "changes of this account" needs no join. A sync removes an
-- opportunity only when none of its entries protects a value; its resolved history then
-- goes with it, so every entry always points at a live record.
CREATE TABLE change_log (
    id             INTEGER PRIMARY KEY,
    record_kind    TEXT NOT NULL CHECK (record_kind IN ('account', 'opportunity')),
    account_id     INTEGER NOT NULL REFERENCES account (id),
    opportunity_id INTEGER REFERENCES opportunity (id) ON DELETE CASCADE,
    sf_id          TEXT,
    field          TEXT NOT NULL COLLATE NOCASE,  -- API names are case-insensitive
    old_value      TEXT NOT NULL CHECK (json_valid(old_value)),
    new_value      TEXT NOT NULL CHECK (json_valid(new_value)),
    remote_value   TEXT CHECK (remote_value IS NULL OR json_valid(remote_value)),
    status         TEXT NOT NULL
                   CHECK (status IN ('pending', 'pushed', 'failed', 'reverted', 'conflict')),
    error_code     TEXT,
    error_message  TEXT,
    note           TEXT,
    attempts       INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    revision       INTEGER NOT NULL DEFAULT 1 CHECK (revision >= 1),
    created_at     TEXT NOT NULL,
    updated_at     TEXT NOT NULL,
    pushed_at      TEXT,
    CHECK ((record_kind = 'opportunity') = (opportunity_id IS NOT NULL))
);
-- At most one entry per field protects the local value: the merge rule, enforced.
CREATE UNIQUE INDEX change_log_one_open_per_field
    ON change_log (account_id, ifnull(opportunity_id, 0), field)
    WHERE status IN ('pending', 'failed', 'conflict');
CREATE INDEX change_log_by_status ON change_log (status, id);
CREATE INDEX change_log_by_account ON change_log (account_id, id);
CREATE INDEX change_log_by_opportunity ON change_log (opportunity_id) WHERE opportunity_id IS NOT NULL;

CREATE TABLE settings (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
) WITHOUT ROWID;

CREATE TABLE sync_run (
    id          INTEGER PRIMARY KEY,
    kind        TEXT NOT NULL,
    status      TEXT NOT NULL CHECK (status IN ('running', 'succeeded', 'partial', 'failed')),
    started_at  TEXT NOT NULL,
    finished_at TEXT,
    counts      TEXT NOT NULL DEFAULT '{}'
                CHECK (json_valid(counts) AND json_type(counts) = 'object'),
    warnings    TEXT NOT NULL DEFAULT '[]'
                CHECK (json_valid(warnings) AND json_type(warnings) = 'array'),
    errors      TEXT NOT NULL DEFAULT '[]'
                CHECK (json_valid(errors) AND json_type(errors) = 'array')
);
CREATE INDEX sync_run_by_start ON sync_run (started_at DESC, id DESC);

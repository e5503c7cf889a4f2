//! upsight's local SQLite store: a per-user cache of Salesforce accounts and opportunities
//! plus the durable outbox of edits (the change log). WAL mode, foreign keys on, embedded
//! append-only migrations, and one transaction per user action.
#![forbid(unsafe_code)]

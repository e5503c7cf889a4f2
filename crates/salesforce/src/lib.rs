//! Everything upsight knows about talking to Salesforce. This is the only crate that spawns
//! `sf` or speaks HTTP to Salesforce.
#![forbid(unsafe_code)]

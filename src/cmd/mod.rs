//! One module per `upsight` subcommand.

pub mod sim;

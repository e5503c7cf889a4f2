//! One module per `upsight` subcommand, plus `output` for what they share (JSON printing,
//! error reporting).

pub mod accounts;
pub mod changes;
pub mod demo;
pub mod output;
pub mod push;
pub mod resolve;
pub mod retry;
pub mod revert;
pub mod serve;
pub mod set;
pub mod settings;
pub mod sim;
pub mod status;
pub mod sync;

//! The `upsight` binary: clap commands wiring the crates together.
fn main() {}

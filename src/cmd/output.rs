//! Output conventions every command follows: with `--json`, stdout carries exactly one JSON
//! document and nothing else; without it, stdout carries human text. Diagnostics and
//! errors always go to stderr (see `main`).

use std::io::Write;

use serde::Serialize;

/// Prints `value` as pretty JSON on stdout.
pub fn print_json(value: &impl Serialize) {
    let mut out = std::io::stdout().lock();
    // A closed stdout (piped into `head`) is not worth a panic.
    let _ = serde_json::to_writer_pretty(&mut out, value);
    let _ = writeln!(out);
}

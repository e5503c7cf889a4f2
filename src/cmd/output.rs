//! Output conventions every command follows: with `--json`, stdout carries exactly one JSON
//! document and nothing else; without it, stdout carries human text. Diagnostics and
//! errors always go to stderr (see `main`).
//!
//! Nothing written to stdout can panic: `println!` does when stdout is a pipe its reader
//! closed (`upsight changes | head -1`) or a full device. Every command prints through
//! [`outln!`] and [`print_json`], which keep the first write error for `main` to report
//! ([`finish`]) and drop the rest. Human text is also made safe for a terminal: Salesforce
//! data can hold escape sequences (any org user can put `ESC]0;…` in an account name), so
//! control and bidirectional-override characters are shown as `\u{…}` rather than sent to
//! the terminal, where they could retitle the window or disguise a line.

use std::fmt;
use std::io::{ErrorKind, Write};
use std::sync::Mutex;

use serde::Serialize;

/// The first error writing stdout, if any.
static STDOUT_FAULT: Mutex<Option<std::io::Error>> = Mutex::new(None);

fn note_fault(e: std::io::Error) {
    let mut fault = STDOUT_FAULT.lock().unwrap_or_else(|e| e.into_inner());
    if fault.is_none() {
        *fault = Some(e);
    }
}

fn stdout_failed() -> bool {
    STDOUT_FAULT
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .is_some()
}

/// Prints `value` as pretty JSON on stdout.
pub fn print_json(value: &impl Serialize) {
    if stdout_failed() {
        return;
    }
    let mut out = std::io::stdout().lock();
    let written = serde_json::to_writer_pretty(&mut out, value)
        .map_err(std::io::Error::from)
        .and_then(|()| writeln!(out))
        .and_then(|()| out.flush());
    if let Err(e) = written {
        note_fault(e);
    }
}

/// "1 account", "2 accounts": `n` and the noun in the number it takes.
pub fn counted(n: u64, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// Writes one line of human text on stdout (what [`outln!`] expands to).
pub fn write_line(args: fmt::Arguments<'_>) {
    if stdout_failed() {
        return;
    }
    let text = terminal_safe(&args.to_string());
    let mut out = std::io::stdout().lock();
    if let Err(e) = writeln!(out, "{text}").and_then(|()| out.flush()) {
        note_fault(e);
    }
}

/// `text` with every character a terminal would act on, rather than show, written as
/// `\u{…}`: C0 and C1 controls but newline and tab, and the bidirectional overrides and
/// isolates that can make a line read as something else.
pub fn terminal_safe(text: &str) -> String {
    let acts = |c: char| {
        (c.is_control() && c != '\n' && c != '\t')
            || ('\u{202a}'..='\u{202e}').contains(&c)
            || ('\u{2066}'..='\u{2069}').contains(&c)
    };
    if !text.chars().any(acts) {
        return text.to_owned();
    }
    let mut safe = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if acts(c) {
            safe.push_str(&format!("\\u{{{:x}}}", c as u32));
        } else {
            safe.push(c);
        }
    }
    safe
}

/// How stdout fared, for the exit code: `None` when everything was written.
pub enum StdoutEnd {
    /// The reader went away (a pipe into `head`): stop quietly, as `cat` would.
    ReaderGone,
    /// Anything else (a full disk): the command's output is lost, and the user must know.
    Failed(std::io::Error),
}

/// Flushes stdout and says whether every write reached it.
pub fn finish() -> Option<StdoutEnd> {
    if let Err(e) = std::io::stdout().lock().flush() {
        note_fault(e);
    }
    let fault = STDOUT_FAULT
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .take()?;
    Some(match fault.kind() {
        ErrorKind::BrokenPipe => StdoutEnd::ReaderGone,
        _ => StdoutEnd::Failed(fault),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn terminal_safe_text() {
        // (text, as shown)
        let cases = [
            ("Acme Corp", "Acme Corp"),
            ("two\nlines\tand a tab", "two\nlines\tand a tab"),
            (
                "Evil \u{1b}]0;pwned\u{7} Corp",
                "Evil \\u{1b}]0;pwned\\u{7} Corp",
            ),
            ("\u{1b}[2J", "\\u{1b}[2J"),
            ("csi \u{9b}31m", "csi \\u{9b}31m"),
            ("pushed\rconflict", "pushed\\u{d}conflict"),
            ("abc\u{202e}fed", "abc\\u{202e}fed"),
            ("Zoë — Ünïcode", "Zoë — Ünïcode"),
        ];
        for (text, shown) in cases {
            assert_eq!(terminal_safe(text), shown, "{text:?}");
        }
    }
}

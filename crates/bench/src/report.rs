//! The results: one [`Row`] per figure, printed as a table (ratios first) and written as
//! JSON under `target/bench/`, with the machine and its load, since numbers from a busy
//! two-core box mean little without them.

use std::fmt;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::stats::median;

/// One measured figure.
#[derive(Debug, Clone, Serialize)]
pub struct Row {
    /// As the table names it.
    pub figure: String,
    /// How upsight was driven for it (binary, warm engine, HTTP).
    pub how: String,
    pub unit: String,
    /// The headline value (the median unless the figure says otherwise).
    pub value: f64,
    pub samples: Vec<f64>,
    pub baseline: Option<Baseline>,
    /// `value / baseline.value`.
    pub ratio: Option<f64>,
    /// The target as the issue states it.
    pub target: String,
    /// Whether the target is met; `None` when there is nothing to meet (report only).
    pub met: Option<bool>,
    pub note: String,
}

/// The bare command measured beside a figure.
#[derive(Debug, Clone, Serialize)]
pub struct Baseline {
    pub what: String,
    pub value: f64,
    pub samples: Vec<f64>,
}

impl Row {
    /// A figure against a baseline, both in milliseconds, with a ratio target `max_ratio`.
    pub fn ratio(
        figure: &str,
        how: &str,
        samples: Vec<f64>,
        baseline_what: &str,
        baseline_samples: Vec<f64>,
        max_ratio: f64,
        note: String,
    ) -> Row {
        let value = median(&samples);
        let base = median(&baseline_samples);
        let ratio = value / base;
        Row {
            figure: figure.to_owned(),
            how: how.to_owned(),
            unit: "ms".to_owned(),
            value,
            samples,
            baseline: Some(Baseline {
                what: baseline_what.to_owned(),
                value: base,
                samples: baseline_samples,
            }),
            ratio: Some(ratio),
            target: format!("<= {max_ratio}x"),
            met: Some(ratio <= max_ratio),
            note,
        }
    }

    /// A figure with an absolute target (`value < limit`), or none.
    pub fn absolute(
        figure: &str,
        how: &str,
        unit: &str,
        value: f64,
        samples: Vec<f64>,
        limit: Option<f64>,
        note: String,
    ) -> Row {
        Row {
            figure: figure.to_owned(),
            how: how.to_owned(),
            unit: unit.to_owned(),
            value,
            samples,
            baseline: None,
            ratio: None,
            target: limit.map_or_else(|| "report".to_owned(), |l| format!("< {l} {unit}")),
            met: limit.map(|l| value < l),
            note,
        }
    }
}

/// The machine the numbers come from.
#[derive(Debug, Clone, Serialize)]
pub struct Machine {
    pub date_utc: String,
    pub nproc: usize,
    pub cpu_model: String,
    pub memory_mib: u64,
    /// `/proc/loadavg`'s 1, 5 and 15 minute averages when the run started.
    pub load_at_start: String,
    pub load_at_end: Option<String>,
}

impl Machine {
    pub fn probe() -> Machine {
        let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let cpu_model = cpuinfo
            .lines()
            .find(|l| l.starts_with("model name"))
            .and_then(|l| l.split_once(':'))
            .map_or_else(|| "unknown".to_owned(), |(_, m)| m.trim().to_owned());
        let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
        let memory_mib = meminfo
            .lines()
            .find(|l| l.starts_with("MemTotal:"))
            .and_then(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
            .map_or(0, |kib| kib / 1024);
        Machine {
            date_utc: utc_now(),
            nproc: std::thread::available_parallelism().map_or(1, |n| n.get()),
            cpu_model,
            memory_mib,
            load_at_start: loadavg(),
            load_at_end: None,
        }
    }
}

impl fmt::Display for Machine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} UTC; {} CPUs ({}); {} MiB RAM; load {} at start",
            self.date_utc, self.nproc, self.cpu_model, self.memory_mib, self.load_at_start
        )?;
        if let Some(end) = &self.load_at_end {
            write!(f, ", {end} at end")?;
        }
        Ok(())
    }
}

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .unwrap_or_default()
        .split_whitespace()
        .take(3)
        .collect::<Vec<_>>()
        .join(" ")
}

/// `YYYY-MM-DD HH:MM` in UTC, from the system clock.
fn utc_now() -> String {
    jiff::Timestamp::now()
        .strftime("%Y-%m-%d %H:%M")
        .to_string()
}

/// Everything one run measured.
#[derive(Debug, Serialize)]
pub struct Report {
    pub machine: Machine,
    pub runs: usize,
    pub rows: Vec<Row>,
}

impl Report {
    pub fn new(mut machine: Machine, runs: usize, rows: Vec<Row>) -> Report {
        machine.load_at_end = Some(loadavg());
        Report {
            machine,
            runs,
            rows,
        }
    }

    /// The table as Markdown: ratio figures first, then counts and local costs.
    pub fn table(&self) -> String {
        let mut out = format!(
            "upsight benchmarks: median of {} interleaved runs; {}\n\n",
            self.runs, self.machine
        );
        out.push_str("| figure | how | ratio | target | met | upsight | baseline |\n");
        out.push_str("|---|---|---|---|---|---|---|\n");
        for row in self.rows.iter().filter(|r| r.ratio.is_some()) {
            let base = row.baseline.as_ref();
            out.push_str(&format!(
                "| {} | {} | **{:.3}x** | {} | {} | {} | {} ({}) |\n",
                row.figure,
                row.how,
                row.ratio.unwrap_or(f64::NAN),
                row.target,
                met(row.met),
                fmt_value(row.value, &row.unit),
                base.map_or_else(String::new, |b| fmt_value(b.value, &row.unit)),
                base.map_or("", |b| b.what.as_str()),
            ));
        }
        out.push_str("\n| figure | how | value | target | met |\n|---|---|---|---|---|\n");
        for row in self.rows.iter().filter(|r| r.ratio.is_none()) {
            out.push_str(&format!(
                "| {} | {} | **{}** | {} | {} |\n",
                row.figure,
                row.how,
                fmt_value(row.value, &row.unit),
                row.target,
                met(row.met),
            ));
        }
        let notes: Vec<&Row> = self.rows.iter().filter(|r| !r.note.is_empty()).collect();
        if !notes.is_empty() {
            out.push_str("\nNotes:\n");
            for row in notes {
                out.push_str(&format!("- {}: {}\n", row.figure, row.note));
            }
        }
        out
    }

    /// Writes `results-<date>.json` and `latest.json` under `dir`; returns the first.
    pub fn write_json(&self, dir: &Path) -> anyhow::Result<PathBuf> {
        std::fs::create_dir_all(dir)?;
        let stamp: String = self
            .machine
            .date_utc
            .chars()
            .map(|c| if c.is_ascii_digit() { c } else { '-' })
            .collect();
        let text = serde_json::to_string_pretty(self)?;
        let path = dir.join(format!("results-{stamp}.json"));
        std::fs::write(&path, &text)?;
        std::fs::write(dir.join("latest.json"), &text)?;
        Ok(path)
    }
}

fn met(m: Option<bool>) -> &'static str {
    match m {
        Some(true) => "yes",
        Some(false) => "**NO**",
        None => "-",
    }
}

fn fmt_value(value: f64, unit: &str) -> String {
    match unit {
        "ms" if value >= 1000.0 => format!("{:.2} s", value / 1000.0),
        "ms" => format!("{value:.1} ms"),
        "MiB" => format!("{value:.1} MiB"),
        "" => format!("{value}"),
        other => format!("{value} {other}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_ratio_row_meets_its_target_at_the_limit() {
        let row = Row::ratio(
            "f",
            "h",
            vec![1.0, 2.0, 3.0],
            "b",
            vec![2.0, 2.0, 2.0],
            1.0,
            String::new(),
        );
        assert_eq!(row.ratio, Some(1.0));
        assert_eq!(row.met, Some(true));
    }

    #[test]
    fn the_date_is_a_plausible_utc_stamp() {
        let d = utc_now();
        assert_eq!(d.len(), 16, "{d}");
        assert!(d.starts_with("20"), "{d}");
    }
}

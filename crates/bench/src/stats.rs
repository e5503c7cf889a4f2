//! Measuring: medians and percentiles, interleaved A/B runs, CPU time and peak RSS.
//!
//! These machines are noisy (two cores shared with compilers and other test runs), so every
//! upsight figure that has a baseline is measured in pairs, A and B back to back, with the
//! order alternating from one pair to the next. Load that comes and goes then hits both sides
//! about equally, and the ratio of the medians stays meaningful when the absolute numbers do
//! not.

use std::time::{Duration, Instant};

/// The median of `samples` (the mean of the middle two for an even count).
pub fn median(samples: &[f64]) -> f64 {
    percentile(samples, 50.0)
}

/// The `p`th percentile by linear interpolation between the closest ranks.
pub fn percentile(samples: &[f64], p: f64) -> f64 {
    if samples.is_empty() {
        return f64::NAN;
    }
    let mut sorted = samples.to_vec();
    sorted.sort_by(f64::total_cmp);
    let rank = (p / 100.0).clamp(0.0, 1.0) * (sorted.len() - 1) as f64;
    let (lo, hi) = (rank.floor() as usize, rank.ceil() as usize);
    sorted[lo] + (sorted[hi] - sorted[lo]) * (rank - lo as f64)
}

/// Milliseconds in a duration, as a float.
pub fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// Runs `f` and returns its result with the wall time it took, in milliseconds.
pub fn timed<T>(f: impl FnOnce() -> T) -> (T, f64) {
    let started = Instant::now();
    let out = f();
    (out, ms(started.elapsed()))
}

/// `n` pairs of runs of `a` and `b`, alternating which goes first, so that drifting load
/// hits both sides alike. Each closure returns its own measurement in milliseconds (it
/// times only the part that is the figure, not its setup).
pub fn interleaved(
    n: usize,
    mut a: impl FnMut(usize) -> anyhow::Result<f64>,
    mut b: impl FnMut(usize) -> anyhow::Result<f64>,
) -> anyhow::Result<(Vec<f64>, Vec<f64>)> {
    let (mut xs, mut ys) = (Vec::with_capacity(n), Vec::with_capacity(n));
    for i in 0..n {
        if i % 2 == 0 {
            xs.push(a(i)?);
            ys.push(b(i)?);
        } else {
            ys.push(b(i)?);
            xs.push(a(i)?);
        }
    }
    Ok((xs, ys))
}

/// CPU time (user + system) this process has used so far, in milliseconds. Measured around
/// work that runs while every other thread of the process is idle, it is that work's cost.
pub fn process_cpu_ms() -> f64 {
    use nix::sys::resource::{getrusage, UsageWho};
    match getrusage(UsageWho::RUSAGE_SELF) {
        Ok(usage) => {
            let tv = |t: nix::sys::time::TimeVal| {
                t.tv_sec() as f64 * 1000.0 + t.tv_usec() as f64 / 1000.0
            };
            tv(usage.user_time()) + tv(usage.system_time())
        }
        Err(_) => f64::NAN,
    }
}

/// The peak resident set size of process `pid` (`VmHWM`), in MiB.
pub fn peak_rss_mib(pid: u32) -> Option<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_interpolate_between_ranks() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), 2.5);
        assert_eq!(percentile(&[1.0, 2.0, 3.0, 4.0, 5.0], 100.0), 5.0);
        assert_eq!(percentile(&[1.0, 2.0, 3.0, 4.0, 5.0], 0.0), 1.0);
        assert!(median(&[]).is_nan());
    }

    #[test]
    fn pairs_alternate_their_order() {
        let order = std::cell::RefCell::new(Vec::new());
        let (a, b) = interleaved(
            4,
            |i| {
                order.borrow_mut().push(('a', i));
                Ok(1.0)
            },
            |i| {
                order.borrow_mut().push(('b', i));
                Ok(2.0)
            },
        )
        .unwrap();
        assert_eq!((a.len(), b.len()), (4, 4));
        let firsts: Vec<char> = order.borrow().chunks(2).map(|p| p[0].0).collect();
        assert_eq!(firsts, vec!['a', 'b', 'a', 'b']);
    }
}

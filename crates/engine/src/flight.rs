//! One run at a time of a piece of slow work (connecting, checking `sf`, describing the
//! org), shared by the callers that want it at once: the first runs it; the others wait for
//! it to end and then read what it left behind. No lock is held while the work runs.

use std::sync::{Condvar, Mutex, MutexGuard};

/// The single-flight gate of one kind of work.
#[derive(Default)]
pub(crate) struct SingleFlight {
    state: Mutex<State>,
    landed: Condvar,
}

#[derive(Default)]
struct State {
    running: bool,
}

/// Clears the running flag however the work ends (a panic included), and wakes the
/// waiters.
struct Running<'a>(&'a SingleFlight);

impl Drop for Running<'_> {
    fn drop(&mut self) {
        self.0.lock().running = false;
        self.0.landed.notify_all();
    }
}

impl SingleFlight {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Runs `work` and returns its result, unless a run is under way: then waits for that
    /// one to end and returns `None`, and the caller looks at what it left (and, if that
    /// is not what it needs, as after a failure, calls again).
    pub fn run_or_join<T>(&self, work: impl FnOnce() -> T) -> Option<T> {
        let mut state = self.lock();
        if state.running {
            while state.running {
                state = self.landed.wait(state).unwrap_or_else(|e| e.into_inner());
            }
            return None;
        }
        state.running = true;
        drop(state);
        let _running = Running(self);
        Some(work())
    }

    /// Whether a run is under way.
    #[cfg(test)]
    pub fn is_running(&self) -> bool {
        self.lock().running
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Barrier;
    use std::time::Duration;

    #[test]
    fn callers_at_once_share_one_run_and_a_later_one_runs_again() {
        let flight = SingleFlight::default();
        let runs = AtomicUsize::new(0);
        let start = Barrier::new(4);
        let results: Vec<Option<usize>> = std::thread::scope(|scope| {
            let handles: Vec<_> = (0..4)
                .map(|_| {
                    scope.spawn(|| {
                        start.wait();
                        flight.run_or_join(|| {
                            std::thread::sleep(Duration::from_millis(300));
                            runs.fetch_add(1, Ordering::SeqCst)
                        })
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        assert_eq!(runs.load(Ordering::SeqCst), 1);
        assert_eq!(results.iter().filter(|r| r.is_some()).count(), 1);
        assert!(!flight.is_running());
        assert_eq!(flight.run_or_join(|| 7), Some(7));
    }

    #[test]
    fn a_run_that_panics_lets_the_next_caller_run() {
        let flight = SingleFlight::default();
        let panicked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            flight.run_or_join(|| panic!("the work failed"))
        }));
        assert!(panicked.is_err());
        assert!(!flight.is_running());
        assert_eq!(flight.run_or_join(|| 1), Some(1));
    }
}

//! What a plugin version's worker processes cost: crashes, timeouts and memory-limit hits,
//! the last poison line, and the quarantine a plugin enters after too many crashes in a
//! window (it lasts until the plugin's file changes: a new file is a new version, with a
//! guard of its own).

use parking_lot::Mutex;
use serde::Serialize;
use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// How a worker failed on a line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureKind {
    /// Died (signal or exit) or answered nonsense.
    Crash,
    /// Took longer than the per-line limit on one line, and was killed.
    Timeout,
    /// Died at its memory limit (`RLIMIT_AS`).
    Memory,
}

/// The line a worker failed on, as `/api/health` shows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Poison {
    /// Source name (empty when the line did not come from a source, as in `kpid parse`).
    pub source: String,
    /// File offset where the line starts, when it came from a file.
    pub offset: Option<u64>,
    /// What happened: `crashed (SIGSEGV)`, `timed out after 1s`, `memory limit (512 MiB)`.
    pub reason: String,
}

/// When a plugin is quarantined.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CrashPolicy {
    /// Failures within `window` that quarantine the plugin.
    pub max_crashes: u32,
    /// The window.
    pub window: Duration,
}

/// Figures of one plugin version's workers.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct GuardFigures {
    /// Worker crashes (signals, exits, bad replies).
    pub crashes: u64,
    /// Lines that ran past the per-line time limit.
    pub timeouts: u64,
    /// Worker deaths at the memory limit.
    pub memory_limit_hits: u64,
    /// Quarantined until the plugin's file changes.
    pub quarantined: bool,
    /// Lines not parsed because the plugin was quarantined.
    pub quarantined_lines: u64,
    /// The last line a worker failed on.
    pub last_poison: Option<Poison>,
}

#[derive(Debug, Default)]
struct State {
    figures: GuardFigures,
    recent: VecDeque<Instant>,
}

/// Per plugin version, shared by every parser made from it.
#[derive(Debug, Default)]
pub struct Guard {
    state: Mutex<State>,
}

impl Guard {
    /// Counts a failure on `poison`; returns true when the plugin is (now) quarantined.
    pub fn failed(&self, kind: FailureKind, poison: Poison, policy: CrashPolicy) -> bool {
        let mut s = self.state.lock();
        let now = Instant::now();
        match kind {
            FailureKind::Crash => s.figures.crashes += 1,
            FailureKind::Timeout => s.figures.timeouts += 1,
            FailureKind::Memory => s.figures.memory_limit_hits += 1,
        }
        s.figures.last_poison = Some(poison);
        s.recent.push_back(now);
        while s
            .recent
            .front()
            .is_some_and(|t| now.duration_since(*t) > policy.window)
        {
            s.recent.pop_front();
        }
        if policy.max_crashes > 0 && s.recent.len() >= policy.max_crashes as usize {
            s.figures.quarantined = true;
        }
        s.figures.quarantined
    }

    /// True once quarantined.
    pub fn quarantined(&self) -> bool {
        self.state.lock().figures.quarantined
    }

    /// Counts lines skipped because of the quarantine.
    pub fn skipped(&self, lines: u64) {
        self.state.lock().figures.quarantined_lines += lines;
    }

    /// The figures so far.
    pub fn figures(&self) -> GuardFigures {
        self.state.lock().figures.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quarantined_after_max_crashes_within_the_window() {
        let g = Guard::default();
        let policy = CrashPolicy {
            max_crashes: 3,
            window: Duration::from_secs(60),
        };
        let p = || Poison {
            source: "web".into(),
            offset: Some(42),
            reason: "crashed (SIGSEGV)".into(),
        };
        assert!(!g.failed(FailureKind::Crash, p(), policy));
        assert!(!g.failed(FailureKind::Timeout, p(), policy));
        assert!(g.failed(FailureKind::Memory, p(), policy));
        let f = g.figures();
        assert_eq!((f.crashes, f.timeouts, f.memory_limit_hits), (1, 1, 1));
        assert_eq!(f.last_poison.unwrap().offset, Some(42));
        let short = CrashPolicy {
            max_crashes: 2,
            window: Duration::ZERO,
        };
        let g = Guard::default();
        assert!(!g.failed(FailureKind::Crash, p(), short));
        std::thread::sleep(Duration::from_millis(2));
        assert!(
            !g.failed(FailureKind::Crash, p(), short),
            "outside the window"
        );
    }
}

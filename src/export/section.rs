//! Remote-write's part of `/api/health` (`remote_write`: every receiver's sends, queue,
//! retries, refusals and drops) and its `kpid_remote_write_*` lines on `/metrics`.

use crate::health::{HealthSection, Status};
use parking_lot::Mutex;
use serde_json::{json, Value};
use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;

/// A receiver's figures, written by its sender task.
#[derive(Debug, Default)]
pub(super) struct Stats {
    pub samples_sent: AtomicU64,
    pub batches_sent: AtomicU64,
    /// Failed attempts that will be tried again (connection errors, timeouts, 5xx, 429).
    pub retries: AtomicU64,
    /// Batches the receiver refused (4xx other than 429): dropped.
    pub refused_batches: AtomicU64,
    pub refused_samples: AtomicU64,
    /// Batches dropped, oldest first, because the queue was full.
    pub dropped_batches: AtomicU64,
    pub dropped_samples: AtomicU64,
    pub queued_batches: AtomicU64,
    pub queued_samples: AtomicU64,
    /// Collections (each turns the current snapshot into batches).
    pub collections: AtomicU64,
    /// CPU time spent rendering and encoding them, nanoseconds.
    pub encode_cpu_ns: AtomicU64,
    /// Whether the oldest batch is failing right now.
    pub failing: std::sync::atomic::AtomicBool,
    /// Unix seconds of the last success, of the last drop or refusal.
    pub last_success: Mutex<Option<f64>>,
    pub last_drop: Mutex<Option<f64>>,
    /// The last error, with its time (never a header's value).
    pub last_error: Mutex<Option<(f64, String)>>,
}

impl Stats {
    /// Something was dropped or refused now.
    pub fn dropped_now(&self) {
        *self.last_drop.lock() = Some(crate::kpi::now());
    }

    pub fn error(&self, e: String) {
        *self.last_error.lock() = Some((crate::kpi::now(), e));
    }

    /// `ok`, `retrying` (the receiver fails, nothing lost yet) or `dropping` (something was
    /// dropped or refused within the last minute).
    fn state(&self) -> &'static str {
        let recent = self
            .last_drop
            .lock()
            .is_some_and(|t| crate::kpi::now() - t < 60.0);
        if recent {
            "dropping"
        } else if self.failing.load(Relaxed) {
            "retrying"
        } else {
            "ok"
        }
    }
}

/// Every receiver, by its URL (credentials removed).
#[derive(Debug, Default)]
pub(super) struct Section(pub Vec<(String, Arc<Stats>)>);

impl HealthSection for Section {
    fn name(&self) -> &'static str {
        "remote_write"
    }

    fn snapshot(&self) -> Value {
        let receivers: Vec<Value> = self
            .0
            .iter()
            .map(|(url, s)| {
                let g = |a: &AtomicU64| a.load(Relaxed);
                json!({
                    "url": url,
                    "tls": false,
                    "state": s.state(),
                    "samples_sent": g(&s.samples_sent),
                    "batches_sent": g(&s.batches_sent),
                    "queued_batches": g(&s.queued_batches),
                    "queued_samples": g(&s.queued_samples),
                    "retries": g(&s.retries),
                    "refused_batches": g(&s.refused_batches),
                    "refused_samples": g(&s.refused_samples),
                    "dropped_batches": g(&s.dropped_batches),
                    "dropped_samples": g(&s.dropped_samples),
                    "collections": g(&s.collections),
                    "encode_cpu_seconds_total": g(&s.encode_cpu_ns) as f64 / 1e9,
                    "last_success": s.last_success.lock().map(crate::kpi::rfc3339),
                    "last_error": s.last_error.lock().as_ref().map(|(t, e)| json!({
                        "at": crate::kpi::rfc3339(*t), "error": e
                    })),
                })
            })
            .collect();
        json!({ "receivers": receivers })
    }

    fn status(&self) -> Status {
        if self.0.iter().any(|(_, s)| s.state() != "ok") {
            Status::Warn
        } else {
            Status::Ok
        }
    }

    fn losses(&self) -> u64 {
        self.0
            .iter()
            .map(|(_, s)| s.dropped_samples.load(Relaxed) + s.refused_samples.load(Relaxed))
            .sum()
    }

    fn prometheus(&self, out: &mut String) {
        type Get = fn(&Stats) -> u64;
        let families: [(&str, &str, &str, Get); 6] = [
            (
                "kpid_remote_write_samples_sent_total",
                "counter",
                "samples the receiver accepted",
                |s| s.samples_sent.load(Relaxed),
            ),
            (
                "kpid_remote_write_retries_total",
                "counter",
                "failed requests tried again (connection errors, timeouts, 5xx, 429)",
                |s| s.retries.load(Relaxed),
            ),
            (
                "kpid_remote_write_refused_samples_total",
                "counter",
                "samples in batches the receiver refused (4xx), dropped",
                |s| s.refused_samples.load(Relaxed),
            ),
            (
                "kpid_remote_write_dropped_samples_total",
                "counter",
                "samples dropped, oldest first, from a full queue",
                |s| s.dropped_samples.load(Relaxed),
            ),
            (
                "kpid_remote_write_queued_samples",
                "gauge",
                "samples waiting for the receiver",
                |s| s.queued_samples.load(Relaxed),
            ),
            (
                "kpid_remote_write_queued_batches",
                "gauge",
                "batches waiting for the receiver",
                |s| s.queued_batches.load(Relaxed),
            ),
        ];
        for (name, ty, help, get) in families {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {ty}");
            for (url, s) in &self.0 {
                out.push_str(name);
                crate::kpi::write_labels(out, [("url", url.as_str())]);
                let _ = writeln!(out, " {}", get(s));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_is_ok_only_when_nothing_is_dropped_or_failing() {
        let s = Arc::new(Stats::default());
        let sec = Section(vec![("http://x/api/v1/write".into(), s.clone())]);
        assert_eq!(sec.status(), Status::Ok);
        s.failing.store(true, Relaxed);
        assert_eq!(sec.snapshot()["receivers"][0]["state"], "retrying");
        s.failing.store(false, Relaxed);
        s.dropped_samples.fetch_add(7, Relaxed);
        s.dropped_now();
        assert_eq!(sec.snapshot()["receivers"][0]["state"], "dropping");
        assert_eq!(sec.status(), Status::Warn);
        assert_eq!(sec.losses(), 7);
        let mut text = String::new();
        sec.prometheus(&mut text);
        assert!(text.contains(
            "kpid_remote_write_dropped_samples_total{url=\"http://x/api/v1/write\"} 7\n"
        ));
    }
}

//! One receiver's task: every interval, the current snapshot becomes batches on its queue;
//! the oldest batch is posted until the queue is empty, with backoff while the receiver fails.
//! When the engine stops publishing (shutdown), a last collection is made and the queue
//! flushed within one timeout.

use super::config::Target;
use super::http::{post, SendError};
use super::queue::{Backoff, Queue};
use super::section::Stats;
use super::{wire, Render};
use crate::engine::Published;
use hyper::header::{HeaderName, HeaderValue};
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::Duration;
use tokio::time::{sleep_until, Instant};

/// Why the task woke up.
enum Wake {
    Collect,
    Retry,
    Published,
    Closed,
}

/// What a receiver's task needs.
pub(super) struct Sender {
    pub target: Target,
    pub headers: Vec<(HeaderName, HeaderValue)>,
    pub external: Vec<(String, String)>,
    pub interval: Duration,
    pub timeout: Duration,
    pub max_samples: usize,
    pub queue: Queue,
    pub stats: Arc<Stats>,
    /// Sequence and time (ms) of the last snapshot collected.
    pub last: Option<(u64, i64)>,
    pub text: String,
}

impl Sender {
    /// Runs until the engine stops publishing, then flushes what it can.
    pub async fn run(mut self, mut published: Published, render: Render) {
        let mut backoff = Backoff::new(crate::kpi::now().to_bits() ^ self.target.port as u64);
        let mut next_collect = Instant::now() + self.interval;
        let mut retry_at: Option<Instant> = None;
        loop {
            if retry_at.is_none_or(|t| t <= Instant::now()) {
                retry_at = self.drain(&mut backoff, Some(next_collect)).await;
            }
            let wait = retry_at.filter(|_| !self.queue.is_empty());
            let woke = tokio::select! {
                _ = sleep_until(next_collect) => Wake::Collect,
                _ = async { match wait { Some(t) => sleep_until(t).await, None => std::future::pending().await } } => Wake::Retry,
                r = published.changed() => if r.is_err() { Wake::Closed } else { Wake::Published },
            };
            match woke {
                Wake::Collect => {
                    self.collect(&published, &render);
                    next_collect += self.interval;
                    let now = Instant::now();
                    if next_collect < now {
                        next_collect = now + self.interval;
                    }
                }
                Wake::Retry => retry_at = None,
                Wake::Published => {}
                Wake::Closed => break,
            }
        }
        // Shutdown: what the engine published last, then as much of the queue as one timeout
        // allows.
        self.collect(&published, &render);
        let deadline = Instant::now() + self.timeout;
        while !self.queue.is_empty() && Instant::now() < deadline {
            match self.drain(&mut backoff, Some(deadline)).await {
                Some(t) => tokio::time::sleep_until(t.min(deadline)).await,
                None => break,
            }
        }
        let left = self.stats.queued_samples.load(Relaxed);
        if left > 0 {
            tracing::warn!(
                "remote write to {}: {left} samples not sent at exit",
                self.target.shown
            );
        }
    }

    /// Posts the oldest batches while they go through; stops at `until` (time to collect
    /// again). Returns when to try again after a failure, if one happened.
    async fn drain(&mut self, backoff: &mut Backoff, until: Option<Instant>) -> Option<Instant> {
        while let Some(b) = self.queue.front() {
            if until.is_some_and(|u| Instant::now() >= u) {
                return None;
            }
            let (body, n) = (b.body.clone(), b.samples as u64);
            match post(&self.target, &self.headers, body, self.timeout).await {
                Ok(()) => {
                    self.stats.samples_sent.fetch_add(n, Relaxed);
                    self.stats.batches_sent.fetch_add(1, Relaxed);
                    *self.stats.last_success.lock() = Some(crate::kpi::now());
                    self.stats.failing.store(false, Relaxed);
                    backoff.reset();
                    self.queue.pop(&self.stats);
                }
                Err(SendError::Refused(e)) => {
                    let k = self.stats.refused_batches.fetch_add(1, Relaxed) + 1;
                    if k.is_power_of_two() {
                        tracing::warn!("{e} (batch of {n} samples dropped; {k} so far)");
                    }
                    self.stats.refused_samples.fetch_add(n, Relaxed);
                    self.stats.dropped_now();
                    self.stats.error(e);
                    self.queue.pop(&self.stats);
                }
                Err(SendError::Retry(e)) => {
                    if !self.stats.failing.swap(true, Relaxed) {
                        tracing::warn!("{e} (queued, retrying)");
                    }
                    self.stats.retries.fetch_add(1, Relaxed);
                    self.stats.error(e);
                    return Some(Instant::now() + backoff.next());
                }
            }
        }
        None
    }

    /// Queues the current value of every series. A snapshot seen before is stamped with the
    /// time of this collection (its values still hold; Prometheus forgets a series after
    /// 5 minutes without samples); timestamps grow strictly, as the receiver requires.
    fn collect(&mut self, published: &Published, render: &Render) {
        let started = thread_cpu_ns();
        let snap = published.borrow().clone();
        let now_ms = (crate::kpi::now() * 1000.0) as i64;
        let ts = match self.last {
            Some((seq, _)) if seq == snap.seq => now_ms,
            _ => (snap.ts * 1000.0) as i64,
        };
        let ts = match self.last {
            Some((_, prev)) if ts <= prev => prev + 1,
            _ => ts,
        };
        self.last = Some((snap.seq, ts));
        self.text.clear();
        render(&snap, &mut self.text);
        for b in wire::encode(&self.text, ts, &self.external, self.max_samples) {
            self.queue.push(b, &self.stats);
        }
        self.stats.collections.fetch_add(1, Relaxed);
        self.stats
            .encode_cpu_ns
            .fetch_add(thread_cpu_ns().saturating_sub(started), Relaxed);
        if self.text.capacity() > 4 * self.text.len().max(64 << 10) {
            self.text.shrink_to(self.text.len() * 2);
        }
    }
}

/// CPU time of the calling thread, nanoseconds (a collection runs on one thread, without
/// awaiting, so the difference is its own cost whatever else the machine runs).
fn thread_cpu_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes into the struct we own.
    if unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) } != 0 {
        return 0;
    }
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

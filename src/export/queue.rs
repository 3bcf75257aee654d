//! The bounded queue of batches waiting for a receiver, and the backoff between retries.

use super::section::Stats;
use super::wire::Batch;
use std::collections::VecDeque;
use std::sync::atomic::Ordering::Relaxed;
use std::time::Duration;

/// First wait after a failed request.
const MIN_BACKOFF: Duration = Duration::from_millis(100);
/// Longest wait between two attempts.
const MAX_BACKOFF: Duration = Duration::from_secs(10);
/// Most bytes of compressed batches kept per receiver, whatever `queue` says.
pub(super) const MAX_QUEUE_BYTES: usize = 64 << 20;

/// Batches in the order they were made (so every series' samples go out in time order); at
/// most `cap` batches and `max_bytes` bytes, the oldest dropped (and counted) to make room.
#[derive(Debug)]
pub(super) struct Queue {
    batches: VecDeque<Batch>,
    cap: usize,
    max_bytes: usize,
    samples: usize,
    bytes: usize,
}

impl Queue {
    pub fn new(cap: usize, max_bytes: usize) -> Queue {
        Queue {
            batches: VecDeque::new(),
            cap,
            max_bytes,
            samples: 0,
            bytes: 0,
        }
    }

    /// Appends a batch, dropping the oldest ones over the cap.
    pub fn push(&mut self, b: Batch, stats: &Stats) {
        self.samples += b.samples;
        self.bytes += b.body.len();
        self.batches.push_back(b);
        while self.batches.len() > self.cap || self.bytes > self.max_bytes {
            let old = self.batches.pop_front().expect("over a cap, so not empty");
            self.samples -= old.samples;
            self.bytes -= old.body.len();
            stats.dropped_batches.fetch_add(1, Relaxed);
            stats.dropped_samples.fetch_add(old.samples as u64, Relaxed);
            stats.dropped_now();
        }
        self.publish(stats);
    }

    /// The oldest batch.
    pub fn front(&self) -> Option<&Batch> {
        self.batches.front()
    }

    /// Removes the oldest batch (sent, or refused by the receiver).
    pub fn pop(&mut self, stats: &Stats) {
        if let Some(b) = self.batches.pop_front() {
            self.samples -= b.samples;
            self.bytes -= b.body.len();
        }
        self.publish(stats);
    }

    pub fn is_empty(&self) -> bool {
        self.batches.is_empty()
    }

    fn publish(&self, stats: &Stats) {
        stats
            .queued_batches
            .store(self.batches.len() as u64, Relaxed);
        stats.queued_samples.store(self.samples as u64, Relaxed);
    }
}

/// Exponential backoff with jitter: 100 ms doubling up to 10 s, each wait drawn between half
/// and all of it so that a fleet does not retry in step.
#[derive(Debug)]
pub(super) struct Backoff {
    failures: u32,
    rng: u64,
}

impl Backoff {
    pub fn new(seed: u64) -> Backoff {
        Backoff {
            failures: 0,
            rng: seed | 1,
        }
    }

    /// The wait before the next attempt, after one more failure.
    pub fn next(&mut self) -> Duration {
        let full = MIN_BACKOFF
            .saturating_mul(1 << self.failures.min(16))
            .min(MAX_BACKOFF);
        self.failures += 1;
        // xorshift64: jitter needs no more than that.
        self.rng ^= self.rng << 13;
        self.rng ^= self.rng >> 7;
        self.rng ^= self.rng << 17;
        let frac = 0.5 + (self.rng >> 11) as f64 / (1u64 << 53) as f64 / 2.0;
        full.mul_f64(frac)
    }

    /// A request went through.
    pub fn reset(&mut self) {
        self.failures = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn batch(n: usize) -> Batch {
        Batch {
            body: bytes::Bytes::from(vec![n as u8]),
            samples: n,
        }
    }

    #[test]
    fn the_oldest_batches_are_dropped_and_counted() {
        let stats = Stats::default();
        let mut q = Queue::new(3, 1 << 20);
        for n in 1..=5 {
            q.push(batch(n), &stats);
        }
        assert_eq!(stats.dropped_batches.load(Relaxed), 2);
        assert_eq!(stats.dropped_samples.load(Relaxed), 1 + 2);
        assert_eq!(stats.queued_batches.load(Relaxed), 3);
        assert_eq!(stats.queued_samples.load(Relaxed), 3 + 4 + 5);
        assert_eq!(q.front().unwrap().samples, 3);
        q.pop(&stats);
        assert_eq!(q.front().unwrap().samples, 4);
        assert_eq!(stats.queued_samples.load(Relaxed), 4 + 5);
    }

    #[test]
    fn the_byte_cap_drops_the_oldest_too() {
        let stats = Stats::default();
        let mut q = Queue::new(100, 2);
        for n in 1..=4 {
            q.push(batch(n), &stats);
        }
        assert_eq!(stats.queued_batches.load(Relaxed), 2);
        assert_eq!(stats.dropped_samples.load(Relaxed), 1 + 2);
        assert_eq!(q.front().unwrap().samples, 3);
    }

    #[test]
    fn backoff_doubles_with_jitter_up_to_its_cap() {
        let mut b = Backoff::new(42);
        let waits: Vec<Duration> = (0..12).map(|_| b.next()).collect();
        for (i, w) in waits.iter().enumerate() {
            let full = MIN_BACKOFF.saturating_mul(1 << i).min(MAX_BACKOFF);
            assert!(*w >= full / 2 && *w <= full, "{i}: {w:?} vs {full:?}");
        }
        assert!(waits[11] >= MAX_BACKOFF / 2);
        b.reset();
        assert!(b.next() <= MIN_BACKOFF);
    }
}

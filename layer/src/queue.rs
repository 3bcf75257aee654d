//! The queue between the app's threads and the exporter: encoded frames appended to one
//! byte buffer, bounded in records and bytes. Pushing never waits for I/O: the lock is held
//! for a `memcpy`; when the queue is full the record is dropped and counted per level.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, Ordering};
use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::Duration;

/// Records are queued; the first connection attempt has not failed yet.
pub(crate) const CONNECTING: u8 = 0;
/// Connected and handshaken: records are queued.
pub(crate) const CONNECTED: u8 = 1;
/// The daemon is absent: records are counted as dropped without being encoded.
pub(crate) const ABSENT: u8 = 2;
/// The guard was dropped: the exporter stopped; records are counted as dropped.
pub(crate) const CLOSED: u8 = 3;

/// Queued frames waiting for the exporter.
#[derive(Debug, Default)]
pub(crate) struct Pending {
    pub(crate) buf: Vec<u8>,
    pub(crate) records: usize,
    pub(crate) levels: [u64; 5],
}

/// Limits of the queue and batching.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limits {
    pub(crate) records: usize,
    pub(crate) bytes: usize,
    pub(crate) batch_bytes: usize,
}

/// State shared by the layer, the exporter and the guard.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) limits: Limits,
    pending: Mutex<Pending>,
    /// The exporter waits here for a full batch, a flush or the close.
    pub(crate) wake: Condvar,
    pub(crate) state: AtomicU8,
    /// A `sole_layer` layer sits on a registry: callsite interest follows the state.
    pub(crate) gated: AtomicBool,
    /// The dispatcher of that layer.
    pub(crate) dispatch: Mutex<Option<tracing::dispatcher::WeakDispatch>>,
    /// Of `dropped`, what the exporter has reported to the daemon (touched by the exporter
    /// only: counting a drop is one atomic add).
    reported: [AtomicU64; 5],
    /// Dropped since start, per level.
    pub(crate) dropped: [AtomicU64; 5],
    pub(crate) sent_records: AtomicU64,
    pub(crate) connects: AtomicU64,
    /// The daemon of the current connection takes traced spans (protocol version 2).
    pub(crate) traced: AtomicBool,
    /// Flush requests made / completed (generations).
    pub(crate) flush_asked: AtomicU64,
    flush_done: Mutex<u64>,
    flushed: Condvar,
}

pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Shared {
    pub(crate) fn new(limits: Limits) -> Self {
        Shared {
            limits,
            pending: Mutex::new(Pending {
                buf: Vec::with_capacity(limits.batch_bytes * 2),
                ..Default::default()
            }),
            wake: Condvar::new(),
            state: AtomicU8::new(CONNECTING),
            gated: AtomicBool::new(false),
            traced: AtomicBool::new(false),
            dispatch: Mutex::new(None),
            reported: Default::default(),
            dropped: Default::default(),
            sent_records: AtomicU64::new(0),
            connects: AtomicU64::new(0),
            flush_asked: AtomicU64::new(0),
            flush_done: Mutex::new(0),
            flushed: Condvar::new(),
        }
    }

    /// True when records should be encoded and queued.
    #[inline]
    pub(crate) fn accepting(&self) -> bool {
        self.state.load(Ordering::Relaxed) <= CONNECTED
    }

    /// Counts `n` records of `level` as dropped.
    #[inline]
    pub(crate) fn drop_records(&self, level: usize, n: u64) {
        self.dropped[level].fetch_add(n, Ordering::Relaxed);
    }

    /// Queues one frame, encoded by `encode` straight into the queue (the lock is held for
    /// the encoding: no copy, no scratch), or drops and counts it when the queue is full.
    #[inline]
    pub(crate) fn push_with(&self, level: usize, encode: impl FnOnce(&mut Vec<u8>)) {
        let mut p = lock(&self.pending);
        let before = p.buf.len();
        if p.records >= self.limits.records {
            drop(p);
            self.drop_records(level, 1);
            return;
        }
        encode(&mut p.buf);
        if p.buf.len() > self.limits.bytes {
            p.buf.truncate(before);
            drop(p);
            self.drop_records(level, 1);
            return;
        }
        p.records += 1;
        p.levels[level] += 1;
        let full = before < self.limits.batch_bytes && p.buf.len() >= self.limits.batch_bytes;
        drop(p);
        if full {
            self.wake.notify_one();
        }
    }

    /// Waits up to `timeout` for a full batch, a flush request or the close, then swaps the
    /// pending frames into `out` (whose buffer must be empty). Returns the flush generation
    /// asked when it woke.
    pub(crate) fn take(&self, out: &mut Pending, timeout: Duration, flushed_gen: u64) -> u64 {
        let p = lock(&self.pending);
        let (mut p, _) = self
            .wake
            .wait_timeout_while(p, timeout, |p| {
                p.buf.len() < self.limits.batch_bytes
                    && self.flush_asked.load(Ordering::Acquire) == flushed_gen
                    && self.state.load(Ordering::Relaxed) != CLOSED
            })
            .unwrap_or_else(|e| e.into_inner());
        let asked = self.flush_asked.load(Ordering::Acquire);
        std::mem::swap(&mut *p, out);
        asked
    }

    /// Takes the drop counts not yet reported (exporter only).
    pub(crate) fn take_unreported(&self) -> [u64; 5] {
        std::array::from_fn(|i| {
            let now = self.dropped[i].load(Ordering::Relaxed);
            let before = self.reported[i].swap(now, Ordering::Relaxed);
            now - before
        })
    }

    /// Puts back drop counts whose report could not be sent (exporter only).
    pub(crate) fn restore_unreported(&self, d: &[u64; 5]) {
        for (r, &n) in self.reported.iter().zip(d) {
            r.fetch_sub(n, Ordering::Relaxed);
        }
    }

    /// Asks the exporter to flush and waits for it, at most `timeout`. True when flushed.
    pub(crate) fn flush(&self, timeout: Duration) -> bool {
        let want = self.flush_asked.fetch_add(1, Ordering::AcqRel) + 1;
        {
            // Taking the queue lock orders this request with the exporter's wait predicate.
            let _p = lock(&self.pending);
            self.wake.notify_all();
        }
        let done = lock(&self.flush_done);
        let (done, _) = self
            .flushed
            .wait_timeout_while(done, timeout, |d| *d < want)
            .unwrap_or_else(|e| e.into_inner());
        *done >= want
    }

    /// The exporter completed flush generation `gen`.
    pub(crate) fn flushed(&self, gen: u64) {
        let mut d = lock(&self.flush_done);
        if gen > *d {
            *d = gen;
        }
        drop(d);
        self.flushed.notify_all();
    }

    /// Marks the layer closed and wakes the exporter.
    pub(crate) fn close(&self) {
        self.state.store(CLOSED, Ordering::Release);
        let _p = lock(&self.pending);
        self.wake.notify_all();
    }
}

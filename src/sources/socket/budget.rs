//! The socket's memory budget: every connection's read buffer is charged, by capacity, to
//! one budget shared by all connections, so that many connections announcing large frames
//! and going silent cannot take more than the budget. A buffer starts small, grows for a
//! large frame or a busy app when the budget allows, and shrinks back once drained. Reads
//! fill only what arrives (no zero-filling), so memory in use follows the bytes received.

use bytes::BufMut;
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::sync::Arc;
use tokio::io::AsyncReadExt;
use tokio::net::UnixStream;

/// A buffer's first capacity.
pub(crate) const INITIAL: usize = 8 << 10;
/// Largest capacity a busy app's buffer grows to (a large frame may need more).
pub(crate) const BUSY_MAX: usize = 256 << 10;

/// Bytes all connections may hold in their buffers.
#[derive(Debug)]
pub(crate) struct Budget {
    cap: usize,
    used: AtomicUsize,
}

impl Budget {
    pub(crate) fn new(cap: usize) -> Arc<Budget> {
        Arc::new(Budget {
            cap,
            used: AtomicUsize::new(0),
        })
    }

    /// Bytes it holds at most.
    pub(crate) fn cap(&self) -> usize {
        self.cap
    }

    /// Bytes charged now.
    pub(crate) fn used(&self) -> usize {
        self.used.load(Relaxed)
    }

    pub(crate) fn take(&self, n: usize) -> bool {
        self.used
            .fetch_update(Relaxed, Relaxed, |u| {
                u.checked_add(n).filter(|t| *t <= self.cap)
            })
            .is_ok()
    }

    pub(crate) fn give(&self, n: usize) {
        self.used.fetch_sub(n, Relaxed);
    }
}

/// Bytes charged to a budget until dropped (the OTLP receiver charges each request in flight
/// this way, from its body to the engine's applying it).
#[derive(Debug)]
pub(crate) struct Charge {
    budget: Arc<Budget>,
    n: usize,
}

impl Charge {
    /// An empty charge.
    pub(crate) fn new(budget: Arc<Budget>) -> Charge {
        Charge { budget, n: 0 }
    }

    /// Charges `n` bytes in all (more or less than now); false, and unchanged, when the
    /// budget cannot give the difference.
    pub(crate) fn set(&mut self, n: usize) -> bool {
        if n > self.n {
            if !self.budget.take(n - self.n) {
                return false;
            }
        } else {
            self.budget.give(self.n - n);
        }
        self.n = n;
        true
    }
}

impl Drop for Charge {
    fn drop(&mut self) {
        self.budget.give(self.n);
    }
}

/// A connection's read buffer: `bytes[..]` received and not yet consumed.
#[derive(Debug)]
pub(crate) struct Buf {
    pub(crate) bytes: Vec<u8>,
    charged: usize,
    budget: Arc<Budget>,
}

impl Buf {
    /// A buffer of [`INITIAL`] capacity, or `None` when the budget is spent.
    pub(crate) fn new(budget: Arc<Budget>) -> Option<Buf> {
        if !budget.take(INITIAL) {
            return None;
        }
        Some(Buf {
            bytes: Vec::with_capacity(INITIAL),
            charged: INITIAL,
            budget,
        })
    }

    /// Capacity as charged.
    pub(crate) fn capacity(&self) -> usize {
        self.charged
    }

    /// Makes room for `n` bytes in all; false when the budget cannot give it.
    pub(crate) fn grow_to(&mut self, n: usize) -> bool {
        if n <= self.charged {
            return true;
        }
        if !self.budget.take(n - self.charged) {
            return false;
        }
        self.bytes.reserve_exact(n - self.bytes.len());
        self.charged = n;
        true
    }

    /// Back to [`INITIAL`] capacity when what is held fits.
    pub(crate) fn shrink(&mut self) {
        if self.charged > INITIAL && self.bytes.len() <= INITIAL {
            let mut small = Vec::with_capacity(INITIAL);
            small.extend_from_slice(&self.bytes);
            self.bytes = small;
            self.budget.give(self.charged - INITIAL);
            self.charged = INITIAL;
        }
    }

    /// Drops the first `n` bytes (frames forwarded).
    pub(crate) fn consume(&mut self, n: usize) {
        self.bytes.drain(..n);
    }

    /// Reads what the stream has into the free capacity; 0 at end of stream (or when full).
    pub(crate) async fn read_from(&mut self, s: &mut UnixStream) -> std::io::Result<usize> {
        let room = self.charged - self.bytes.len();
        if room == 0 {
            return Ok(0);
        }
        debug_assert!(self.bytes.capacity() >= self.charged);
        let mut limited = (&mut self.bytes).limit(room);
        s.read_buf(&mut limited).await
    }
}

impl Drop for Buf {
    fn drop(&mut self) {
        self.budget.give(self.charged);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buffers_share_one_budget_and_give_back_what_they_drop() {
        let b = Budget::new(3 * INITIAL);
        let mut x = Buf::new(b.clone()).unwrap();
        let _y = Buf::new(b.clone()).unwrap();
        assert!(!x.grow_to(3 * INITIAL), "over the budget");
        assert!(x.grow_to(2 * INITIAL));
        assert!(Buf::new(b.clone()).is_none());
        x.bytes.extend_from_slice(&[1; 100]);
        x.shrink();
        assert_eq!(
            (x.capacity(), x.bytes.len(), b.used()),
            (INITIAL, 100, 2 * INITIAL)
        );
        drop(x);
        assert_eq!(b.used(), INITIAL);
    }

    #[test]
    fn a_charge_grows_and_shrinks_within_the_budget_and_gives_all_back() {
        let b = Budget::new(100);
        let mut c = Charge::new(b.clone());
        assert!(c.set(60));
        assert!(!c.set(101), "over the budget");
        assert_eq!(b.used(), 60, "unchanged when refused");
        assert!(c.set(10));
        assert_eq!(b.used(), 10);
        drop(c);
        assert_eq!(b.used(), 0);
    }

    #[tokio::test]
    async fn reads_stop_at_the_charged_capacity() {
        use tokio::io::AsyncWriteExt;
        let (mut a, mut c) = UnixStream::pair().unwrap();
        c.write_all(&vec![7u8; 3 * INITIAL]).await.unwrap();
        let mut x = Buf::new(Budget::new(1 << 20)).unwrap();
        let mut got = 0;
        while got < INITIAL {
            got += x.read_from(&mut a).await.unwrap();
        }
        assert_eq!((got, x.bytes.len()), (INITIAL, INITIAL));
        assert_eq!(
            x.read_from(&mut a).await.unwrap(),
            0,
            "full: nothing more read"
        );
    }
}

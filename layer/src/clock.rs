//! The layer's clock. Reading the OS clock costs 60-90 ns on some virtual machines (this
//! project's CI among them), three reads per span-plus-event; so on x86_64, when the kernel
//! itself trusts the TSC (`clocksource` is `tsc`), the layer reads the TSC (about 11 ns there) and
//! converts ticks to nanoseconds with a 32.32 fixed-point rate (one integer multiply: float
//! conversions cost more than the read) calibrated against `Instant` at start and refined
//! by the exporter thread (continuously: a refinement never makes it jump).
//! Elsewhere it reads `Instant`.

use std::sync::atomic::{AtomicPtr, AtomicU32, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// A linear piece of the tick → nanosecond mapping. Pieces are never freed (at most
/// [`MAX_PIECES`] per clock), so a reader may hold one while a newer one is published.
#[derive(Debug)]
struct Piece {
    ticks: u64,
    ns: u64,
    /// Nanoseconds per tick, in 32.32 fixed point (an integer multiply per read).
    rate: u64,
}

/// Pieces one clock publishes: at calibration, then refined at about 1 s, 10 s, 100 s and
/// 1000 s of age.
const MAX_PIECES: u32 = 5;

/// Monotonic nanoseconds since the layer started, mapped to Unix time once.
#[derive(Debug, Clone)]
pub(crate) struct Clock {
    base: Instant,
    base_ticks: u64,
    pub(crate) base_unix_ns: u64,
    /// Current piece; null when the TSC is not used.
    piece: Arc<AtomicPtr<Piece>>,
    pieces: Arc<AtomicU32>,
}

#[cfg(target_arch = "x86_64")]
#[inline]
fn ticks() -> u64 {
    // SAFETY: RDTSC is available on every x86_64 CPU and has no preconditions.
    #[allow(unused_unsafe)]
    unsafe {
        core::arch::x86_64::_rdtsc()
    }
}

#[cfg(not(target_arch = "x86_64"))]
#[inline]
fn ticks() -> u64 {
    0
}

/// Reads `Instant` and the TSC together: the TSC is read on both sides of the `Instant` and
/// the pair kept only when the two TSC reads are close (no preemption in between).
fn pair() -> (Instant, u64) {
    let mut best = (Instant::now(), ticks(), u64::MAX);
    for _ in 0..20 {
        let a = ticks();
        let i = Instant::now();
        let b = ticks();
        let gap = b.wrapping_sub(a);
        if gap < best.2 {
            best = (i, a + gap / 2, gap);
        }
        if gap < 2_000 {
            break;
        }
    }
    (best.0, best.1)
}

fn tsc_trusted() -> bool {
    cfg!(target_arch = "x86_64")
        && std::fs::read_to_string(
            "/sys/devices/system/clocksource/clocksource0/current_clocksource",
        )
        .is_ok_and(|s| s.trim() == "tsc")
}

impl Clock {
    /// A clock; calibrating the TSC takes about 2 ms.
    pub(crate) fn new() -> Self {
        let unix = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        let (base, base_ticks) = pair();
        let clock = Clock {
            base,
            base_ticks,
            base_unix_ns: unix.as_nanos() as u64,
            piece: Arc::new(AtomicPtr::new(std::ptr::null_mut())),
            pieces: Arc::new(AtomicU32::new(0)),
        };
        if tsc_trusted() {
            while base.elapsed() < Duration::from_millis(2) {
                std::hint::spin_loop();
            }
            clock.rebase();
        }
        clock
    }

    /// Refines the tick rate when the clock reaches the next age of its schedule (called
    /// by the exporter thread only).
    pub(crate) fn refine(&self) {
        let n = self.pieces.load(Ordering::Relaxed);
        if n == 0 || n >= MAX_PIECES {
            return;
        }
        if self.base.elapsed() >= Duration::from_secs(10u64.pow(n - 1)) {
            self.rebase();
        }
    }

    /// Publishes a new piece: the rate measured over the whole age of the clock, starting
    /// where the current piece is now (so the clock never jumps).
    pub(crate) fn rebase(&self) {
        let (i, t) = pair();
        let dt = t.wrapping_sub(self.base_ticks);
        let ns = (i - self.base).as_nanos() as u64;
        if dt == 0 || ns == 0 || self.pieces.load(Ordering::Relaxed) >= MAX_PIECES {
            return;
        }
        let now = match self.current() {
            Some(p) => p.at(t),
            None => ns,
        };
        let piece = Box::new(Piece {
            ticks: t,
            ns: now,
            rate: ((ns as u128) << 32)
                .checked_div(dt as u128)
                .map_or(0, |r| r as u64),
        });
        self.piece.store(Box::into_raw(piece), Ordering::Release);
        self.pieces.fetch_add(1, Ordering::Relaxed);
    }

    #[inline]
    fn current(&self) -> Option<&Piece> {
        let p = self.piece.load(Ordering::Acquire);
        // SAFETY: pieces are leaked boxes, published once fully built and never freed.
        unsafe { p.as_ref() }
    }

    /// Nanoseconds since start.
    #[inline]
    pub(crate) fn now_ns(&self) -> u64 {
        match self.current() {
            Some(p) => p.at(ticks()),
            None => self.base.elapsed().as_nanos() as u64,
        }
    }
}

impl Piece {
    #[inline]
    fn at(&self, t: u64) -> u64 {
        self.ns + ((t.saturating_sub(self.ticks) as u128 * self.rate as u128) >> 32) as u64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The clock and `Instant` read together (retried when preempted in between).
    fn both(c: &Clock) -> (u64, Instant) {
        loop {
            let a = c.now_ns();
            let i = Instant::now();
            let b = c.now_ns();
            if b - a < 20_000 {
                return (a + (b - a) / 2, i);
            }
        }
    }

    #[test]
    fn follows_instant_within_a_percent() {
        let c = Clock::new();
        let (a, i) = both(&c);
        std::thread::sleep(Duration::from_millis(100));
        let (b, j) = both(&c);
        let want = (j - i).as_nanos() as f64;
        let got = (b - a) as f64;
        assert!(
            (got - want).abs() / want < 0.01,
            "clock {got} ns vs Instant {want} ns"
        );
        let before = c.now_ns();
        c.rebase();
        assert!(c.now_ns() >= before, "no jump back at a rebase");
    }
}

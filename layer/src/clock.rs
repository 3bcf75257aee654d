//! The layer's clock. Reading the OS clock costs 60-90 ns on some virtual machines (this
//! project's CI among them), three reads per span-plus-event; so on x86_64, when the kernel
//! itself trusts the TSC (`clocksource` is `tsc`), the layer reads the TSC (about 25 ns) and
//! converts ticks to nanoseconds with a rate calibrated against `Instant` at start and
//! refined by the exporter thread. Elsewhere it reads `Instant`.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Monotonic nanoseconds since the layer started, mapped to Unix time once.
#[derive(Debug, Clone)]
pub(crate) struct Clock {
    base: Instant,
    base_ticks: u64,
    pub(crate) base_unix_ns: u64,
    /// Nanoseconds per TSC tick (f64 bits); 0 when the TSC is not used.
    ns_per_tick: Arc<AtomicU64>,
    tsc: bool,
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
        let (base, base_ticks) = (Instant::now(), ticks());
        let clock = Clock {
            base,
            base_ticks,
            base_unix_ns: unix.as_nanos() as u64,
            ns_per_tick: Arc::new(AtomicU64::new(0)),
            tsc: tsc_trusted(),
        };
        if clock.tsc {
            while base.elapsed() < Duration::from_millis(2) {
                std::hint::spin_loop();
            }
            clock.refine();
        }
        clock
    }

    /// Recomputes the tick rate over the whole time since start (more precise with age).
    pub(crate) fn refine(&self) {
        if !self.tsc {
            return;
        }
        let (ns, t) = (self.base.elapsed().as_nanos() as f64, ticks());
        let dt = t.wrapping_sub(self.base_ticks);
        if dt > 0 && ns > 0.0 {
            self.ns_per_tick
                .store((ns / dt as f64).to_bits(), Ordering::Relaxed);
        }
    }

    /// Nanoseconds since start.
    #[inline]
    pub(crate) fn now_ns(&self) -> u64 {
        let rate = self.ns_per_tick.load(Ordering::Relaxed);
        if rate == 0 {
            return self.base.elapsed().as_nanos() as u64;
        }
        (ticks().wrapping_sub(self.base_ticks) as f64 * f64::from_bits(rate)) as u64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn follows_instant_within_a_percent() {
        let c = Clock::new();
        let (a, i) = (c.now_ns(), Instant::now());
        std::thread::sleep(Duration::from_millis(50));
        let (b, j) = (c.now_ns(), Instant::now());
        let want = (j - i).as_nanos() as f64;
        let got = (b - a) as f64;
        assert!(
            (got - want).abs() / want < 0.01,
            "clock {got} ns vs Instant {want} ns"
        );
        c.refine();
        assert!(c.now_ns() >= b);
    }
}

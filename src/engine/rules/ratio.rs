//! Ratios of one KPI over another: `kind = "ratio"` with `numerator` and `denominator`,
//! each the name of counter rules of the config (docs/rules.md).
//!
//! Whenever a counter rule that feeds a ratio adds to its series, the engine adds the same
//! amount to the ratio's window on that side, under the ratio's label set (the ratio's
//! `labels`, read as the feeding rule labels its own series: both sides must have them; the
//! feeding rules' other labels are summed over), and sets the ratio to the numerator's sum
//! over the window divided by the denominator's. A window whose denominator is 0 gives no
//! value: the ratio is not set (and not exported before its first value). Nothing here runs
//! for a rule that feeds no ratio.

use super::label::Label;
use super::observe::resolve_values;
use super::Rule;
use crate::engine::filter::View;
use crate::kpi::{Obs, SeriesRef, Store};
use rustc_hash::FxHashMap;

/// Slots of a window.
const SLOTS: usize = 60;

/// What a counter rule adds to one side of a ratio.
#[derive(Debug, Clone)]
pub(super) struct Feed {
    /// The ratio, in [`super::Rules::kpi_ratios`].
    pub ratio: usize,
    /// The numerator's side (else the denominator's).
    pub num: bool,
    /// For each of the ratio's labels, the feeding rule's label of that name.
    pub labels: Box<[usize]>,
}

/// A series once resolved (`None` before: not made before its first value).
type Resolved = Option<Option<SeriesRef>>;

/// One ratio rule of KPIs: its series and their windows.
#[derive(Debug)]
pub(super) struct KpiRatio {
    /// The ratio rule, in [`super::Rules::rules`].
    pub rule: usize,
    /// Seconds per slot: the window / 60.
    pub width: f64,
    /// Label set → its series (resolved at its first value) and window.
    series: FxHashMap<Box<[u8]>, (Resolved, Pair)>,
}

impl KpiRatio {
    pub(super) fn new(rule: usize, width: f64) -> KpiRatio {
        KpiRatio {
            rule,
            width,
            series: FxHashMap::default(),
        }
    }
}

/// Both sides' sums over a window of [`SLOTS`] slots.
#[derive(Debug)]
struct Pair {
    slots: [(f64, f64); SLOTS],
    slot: i64,
    /// The slots' sums, kept as records come and summed again when slots leave the window.
    sum: (f64, f64),
}

impl Default for Pair {
    fn default() -> Self {
        Pair {
            slots: [(0.0, 0.0); SLOTS],
            slot: i64::MIN,
            sum: (0.0, 0.0),
        }
    }
}

impl Pair {
    /// Adds `(num, den)` in slot `at` (time / slot width); returns the sums over the window.
    fn push(&mut self, at: f64, num: f64, den: f64) -> (f64, f64) {
        let slot = at.floor() as i64;
        if slot > self.slot {
            let gap = slot.saturating_sub(self.slot).min(SLOTS as i64);
            for s in 0..gap {
                self.slots[(slot - s).rem_euclid(SLOTS as i64) as usize] = (0.0, 0.0);
            }
            self.slot = slot;
            // Summed again (not subtracted) once per slot: no rounding drift.
            self.sum = self
                .slots
                .iter()
                .fold((0.0, 0.0), |(n, d), s| (n + s.0, d + s.1));
        }
        // A record older than the window adds to its oldest slot: it is not lost.
        let i = slot
            .max(self.slot - SLOTS as i64 + 1)
            .rem_euclid(SLOTS as i64) as usize;
        self.slots[i].0 += num;
        self.slots[i].1 += den;
        self.sum.0 += num;
        self.sum.1 += den;
        self.sum
    }
}

/// What one feeding rule added: its labels, the record it read, the amount and the time.
pub(super) struct Fed<'a, 'v, 'r> {
    pub labels: &'a [Label],
    pub view: &'a View<'v, 'r>,
    pub amount: f64,
    pub now: f64,
}

/// Adds what a counter rule added to each ratio it `feeds`, and sets those ratios (rules
/// are the compiled rules, for each ratio's series). `cap` is the most label sets a ratio
/// keeps windows for: past it one shared window feeds the store's `other` series.
pub(super) fn feed(
    ratios: &mut [KpiRatio],
    rules: &[Rule],
    feeds: &[Feed],
    fed: &Fed<'_, '_, '_>,
    store: &mut Store,
    cap: usize,
) {
    for f in feeds {
        let ratio = &mut ratios[f.ratio];
        let values: Vec<String> = f
            .labels
            .iter()
            .map(|&j| fed.labels[j].value(fed.view))
            .collect();
        let mut key = Vec::new();
        for v in &values {
            key.extend_from_slice(v.as_bytes());
            key.push(0xff);
        }
        // Looked up by the bytes (no allocation once the label set is known).
        if !ratio.series.contains_key(key.as_slice()) {
            if ratio.series.len() >= cap {
                key.clear();
                key.push(0xfe);
            }
            ratio.series.entry(key.as_slice().into()).or_default();
        }
        let Some((slot, pair)) = ratio.series.get_mut(key.as_slice()) else {
            continue;
        };
        let at = fed.now / ratio.width;
        let (n, d) = if f.num {
            pair.push(at, fed.amount, 0.0)
        } else {
            pair.push(at, 0.0, fed.amount)
        };
        if d <= 0.0 {
            continue; // no value: not set, and not even made before its first one
        }
        let r = *slot.get_or_insert_with(|| resolve_values(store, &rules[ratio.rule], &values));
        if let Some(r) = r {
            store.apply(r, Obs::Set(n / d), fed.now);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Pair;

    #[test]
    fn sums_both_sides_over_the_window_only() {
        let mut p = Pair::default();
        assert_eq!(p.push(0.0, 1.0, 0.0), (1.0, 0.0));
        assert_eq!(p.push(10.0, 0.0, 4.0), (1.0, 4.0));
        assert_eq!(p.push(59.5, 1.0, 1.0), (2.0, 5.0));
        // Slot 0 leaves the window at slot 60; slot 10 at 70.
        assert_eq!(p.push(60.0, 0.0, 1.0), (1.0, 6.0));
        assert_eq!(p.push(70.0, 0.0, 0.0), (1.0, 2.0));
        // Long after: only what is new.
        assert_eq!(p.push(1000.0, 3.0, 6.0), (3.0, 6.0));
        // A late record (before the window) counts in its oldest slot, not lost.
        assert_eq!(p.push(5.0, 1.0, 1.0), (4.0, 7.0));
    }
}

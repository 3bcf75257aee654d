//! Bounded caches from bytes (label values, field keys) to resolved series.
//!
//! A cache never grows past its cap: once full, a key it does not hold is resolved through
//! the store each time (the store folds or refuses it, and counts that). This is what keeps
//! memory bounded under a cardinality bomb: nothing per distinct key is kept beyond the caps.

use crate::kpi::SeriesRef;
use rustc_hash::FxHashMap;

/// Resolved series by key, at most `cap` of them.
#[derive(Debug, Default)]
pub(crate) struct RefCache {
    map: FxHashMap<Box<[u8]>, Option<SeriesRef>>,
    /// Lookups that missed while the cache was full.
    pub(crate) overflow: u64,
}

impl RefCache {
    /// The cached resolution of `key`, or `resolve()`'s, cached while there is room.
    #[inline]
    pub(crate) fn get_or(
        &mut self,
        key: &[u8],
        cap: usize,
        resolve: impl FnOnce() -> Option<SeriesRef>,
    ) -> Option<SeriesRef> {
        if let Some(r) = self.map.get(key) {
            return *r;
        }
        let r = resolve();
        if self.map.len() < cap {
            self.map.insert(key.into(), r);
        } else {
            self.overflow += 1;
        }
        r
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.map.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stops_growing_at_its_cap() {
        let mut c = RefCache::default();
        let mut calls = 0;
        for i in 0..100u32 {
            c.get_or(&i.to_le_bytes(), 10, || {
                calls += 1;
                None
            });
        }
        assert_eq!(c.len(), 10);
        assert_eq!(c.overflow, 90);
        c.get_or(&3u32.to_le_bytes(), 10, || unreachable!("cached"));
        assert_eq!(calls, 100);
    }
}

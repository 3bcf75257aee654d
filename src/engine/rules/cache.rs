//! Bounded caches from bytes (label values, field keys) to resolved series.
//!
//! A cache never grows past its cap: once full, a key it does not hold is resolved through
//! the store each time (the store folds or refuses it, and counts that). This is what keeps
//! memory bounded under a cardinality bomb: nothing per distinct key is kept beyond the caps.

use crate::kpi::SeriesRef;
use rustc_hash::FxHashMap;

/// Resolved series (with whatever goes with them, `V`) by key, at most `cap` of them.
#[derive(Debug)]
pub(crate) struct RefCache<V = Option<SeriesRef>> {
    map: FxHashMap<Box<[u8]>, V>,
}

impl<V> Default for RefCache<V> {
    fn default() -> Self {
        RefCache {
            map: FxHashMap::default(),
        }
    }
}

impl<V: Copy> RefCache<V> {
    /// The cached resolution of `key`, or `resolve()`'s, cached while there is room.
    #[inline]
    pub(crate) fn get_or(&mut self, key: &[u8], cap: usize, resolve: impl FnOnce() -> V) -> V {
        if let Some(r) = self.map.get(key) {
            return *r;
        }
        let r = resolve();
        if self.map.len() < cap {
            self.map.insert(key.into(), r);
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
        let mut c: RefCache = RefCache::default();
        let mut calls = 0;
        for i in 0..100u32 {
            c.get_or(&i.to_le_bytes(), 10, || {
                calls += 1;
                None
            });
        }
        assert_eq!(c.len(), 10);
        c.get_or(&3u32.to_le_bytes(), 10, || unreachable!("cached"));
        assert_eq!(calls, 100);
    }
}

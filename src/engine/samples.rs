//! Samples (host, processes, GPU) applied to the store: each series resolved once, kept by
//! its `Arc` for as long as the sampler reports it.

use crate::kpi::{Kind, Obs, SeriesRef, SeriesSpec, Store};
use crate::sources::sample::{SampleBatch, SampleKind, SampleSeries};
use rustc_hash::FxHashMap;
use std::sync::Arc;

/// Most series remembered; beyond, the cache is cleared of those no sampler holds.
const MAX_CACHED: usize = 8192;

/// Series resolved so far, by the address of their `Arc` (held here, so never reused).
#[derive(Debug, Default)]
pub(super) struct SampleCache {
    map: FxHashMap<usize, (Arc<SampleSeries>, Option<SeriesRef>)>,
}

impl SampleCache {
    fn resolve(&mut self, store: &mut Store, s: &Arc<SampleSeries>) -> Option<SeriesRef> {
        let key = Arc::as_ptr(s) as usize;
        if let Some((_, r)) = self.map.get(&key) {
            return *r;
        }
        if self.map.len() >= MAX_CACHED {
            // Only this cache holds them: their sampler forgot them.
            self.map.retain(|_, (a, _)| Arc::strong_count(a) > 1);
        }
        let labels: Vec<(&str, &str)> = s.labels.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let r = store.resolve(&SeriesSpec {
            name: s.name,
            labels: &labels,
            kind: match s.kind {
                SampleKind::Gauge => Kind::Gauge,
                SampleKind::Counter => Kind::Counter,
            },
            unit: s.unit,
            help: s.help,
            buckets: None,
        });
        if self.map.len() < MAX_CACHED {
            self.map.insert(key, (s.clone(), r));
        }
        r
    }

    /// Applies one tick's samples.
    pub(super) fn apply(&mut self, store: &mut Store, batch: SampleBatch, now: f64) {
        for s in batch.samples {
            if let Some(r) = self.resolve(store, &s.series) {
                let obs = match s.series.kind {
                    SampleKind::Gauge => Obs::Set(s.value),
                    SampleKind::Counter => Obs::Add(s.value),
                };
                store.apply(r, obs, now);
            }
        }
    }
}

//! Where the natural KPIs' samples go (the store through a bounded cache, or a list for
//! `kpid parse`), and the one-minute window behind ratios.

use super::super::cache::RefCache;
use super::super::dry::DrySample;
use super::{Ctx, FieldState};
use crate::kpi::{Kind, Obs, SeriesRef, SeriesSpec, Store};

/// Where samples go: the store, or a list (`kpid parse`).
pub(in crate::engine::rules) enum Out<'s> {
    Store(&'s mut Store),
    Dry(&'s mut Vec<DrySample>),
}

/// True and false counts over the last minute, one slot a second.
#[derive(Debug, Clone)]
pub(in crate::engine::rules) struct Window {
    slots: [(u32, u32); 60],
    sec: i64,
}

impl Default for Window {
    fn default() -> Self {
        Window {
            slots: [(0, 0); 60],
            sec: i64::MIN,
        }
    }
}

impl Window {
    /// Adds one record at `now`; returns the fraction of true over the window.
    pub(in crate::engine::rules) fn push(&mut self, now: f64, yes: bool) -> f64 {
        let sec = now.floor() as i64;
        if sec > self.sec {
            let gap = sec.saturating_sub(self.sec).min(60);
            for s in 1..=gap {
                self.slots[(sec - s + 1).rem_euclid(60) as usize] = (0, 0);
            }
            self.sec = sec;
        }
        let slot = &mut self.slots[sec.rem_euclid(60) as usize];
        slot.0 += u32::from(yes);
        slot.1 += 1;
        let (t, n) = self.slots.iter().fold((0u64, 0u64), |(t, n), s| {
            (t + u64::from(s.0), n + u64::from(s.1))
        });
        t as f64 / n.max(1) as f64
    }
}

/// A series to resolve, owned (built only when a cache misses).
pub(super) struct Owned {
    pub name: String,
    pub labels: Vec<(String, String)>,
    pub kind: Kind,
    pub unit: &'static str,
    pub help: String,
}

/// Applies `obs` to the series of `key` in `cache` (resolved from `make()` on a miss), or
/// lists it for a dry run.
#[allow(clippy::too_many_arguments)]
pub(super) fn emit(
    out: &mut Out<'_>,
    cache: &mut RefCache,
    cap: usize,
    key: &[u8],
    obs: Obs,
    now: f64,
    make: impl FnOnce() -> Owned,
) {
    let resolve = |store: &mut Store, o: &Owned| {
        let labels: Vec<(&str, &str)> = o
            .labels
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        store.resolve(&SeriesSpec {
            name: &o.name,
            labels: &labels,
            kind: o.kind,
            unit: o.unit,
            help: &o.help,
            buckets: None,
        })
    };
    match out {
        Out::Store(store) => {
            let r: Option<SeriesRef> = cache.get_or(key, cap, || resolve(store, &make()));
            if let Some(r) = r {
                store.apply(r, obs, now);
            }
        }
        Out::Dry(v) => {
            let mut o = make();
            o.labels.sort();
            let body: Vec<String> = o
                .labels
                .iter()
                .map(|(k, v)| format!("{k}=\"{v}\""))
                .collect();
            v.push(DrySample {
                id: format!("{}{{{}}}", o.name, body.join(",")),
                obs,
            });
        }
    }
}

/// Bytes as text.
pub(super) fn text(f: &[u8]) -> String {
    String::from_utf8_lossy(f).into_owned()
}

/// A KPI of a source with no other label.
pub(super) struct Single {
    name: &'static str,
    kind: Kind,
    unit: &'static str,
    help: &'static str,
}

pub(super) const BYTES: Single = Single {
    name: "http_response_bytes_total",
    kind: Kind::Counter,
    unit: "bytes",
    help: "bytes of HTTP responses, from access lines",
};
pub(super) const DURATION: Single = Single {
    name: "http_request_duration_seconds",
    kind: Kind::Distribution,
    unit: "s",
    help: "HTTP request duration, from the first latency-like field of access lines",
};
pub(super) const RATIO_5XX: Single = Single {
    name: "http_5xx_ratio",
    kind: Kind::Gauge,
    unit: "",
    help: "fraction of HTTP requests answered 5xx over the last minute",
};
pub(super) const FOLDED: Single = Single {
    name: "auto_label_values_folded_total",
    kind: Kind::Counter,
    unit: "",
    help: "label values of lines past a field's budget, folded into `other`",
};

impl FieldState {
    /// Applies `obs` to the source's series of `s`.
    pub(super) fn single(&mut self, out: &mut Out<'_>, ctx: &Ctx<'_>, s: &Single, obs: Obs) {
        let make = || Owned {
            name: s.name.into(),
            labels: vec![("source".into(), ctx.source.into())],
            kind: s.kind,
            unit: s.unit,
            help: s.help.into(),
        };
        emit(
            out,
            &mut self.one,
            64,
            s.name.as_bytes(),
            obs,
            ctx.now,
            make,
        );
    }
}

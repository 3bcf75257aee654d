//! One rule on one record: whether it counts the record, the number it reads, the series
//! its labels name; and the series rules declare up front.

use super::pattern::Patterns;
use super::{obs, Rule, Rules};
use crate::engine::filter::View;
use crate::kpi::{Kind, Obs, SeriesRef, SeriesSpec, Store};
use kpid_parsers::Record;

/// Resolves the series of `rule` for the label values of the record in `view`.
pub(super) fn resolve(store: &mut Store, rule: &Rule, view: &View<'_, '_>) -> Option<SeriesRef> {
    let values: Vec<String> = rule.labels.iter().map(|l| l.value(view)).collect();
    resolve_values(store, rule, &values)
}

/// Resolves the series of `rule` whose labels have these values, in the rule's order.
pub(super) fn resolve_values(
    store: &mut Store,
    rule: &Rule,
    values: &[String],
) -> Option<SeriesRef> {
    let labels: Vec<(&str, &str)> = rule
        .labels
        .iter()
        .zip(values)
        .map(|(l, v)| (l.name.as_str(), v.as_str()))
        .collect();
    store.resolve(&rule.spec(&labels))
}

impl Rule {
    pub(super) fn spec<'a>(&'a self, labels: &'a [(&'a str, &'a str)]) -> SeriesSpec<'a> {
        SeriesSpec {
            name: &self.name,
            labels,
            kind: self.kind,
            unit: &self.unit,
            help: &self.help,
            buckets: self.buckets.as_ref(),
        }
    }

    /// The observation of an end rule: the time since its session's start, in the rule's
    /// unit (seconds × its scale).
    pub(super) fn elapsed(&self, secs: f64) -> Obs {
        obs(self.kind, secs * self.scale + self.offset)
    }

    /// The number the rule adds, sets or observes for this record.
    #[inline]
    fn number(&self, view: &View<'_, '_>) -> Option<f64> {
        Some(match &self.value {
            Some(v) => v.eval(view)? * self.scale + self.offset,
            None => self.scale,
        })
    }
}

/// The observation `rule` makes of the record seen through `plain` (a ratio's: `Set(1)` or
/// `Set(0)`), and the view its labels read (with its `match`'s captures); `None` when it makes
/// none. `line` is what its `match` runs on. Inlined into the per-record loop: its view is
/// then built in place rather than returned (measured on the Apache benchmark).
#[inline(always)]
pub(super) fn observe<'a, 'r>(
    rule: &Rule,
    patterns: &'a mut Patterns,
    plain: View<'a, 'r>,
    line: &'a [u8],
) -> Option<(View<'a, 'r>, Obs)> {
    if rule.source.as_deref().is_some_and(|s| s != plain.source) {
        return None;
    }
    let hit = rule.pattern.is_none_or(|p| patterns.test(p, line));
    let patterns: &'a Patterns = patterns;
    let view = match rule.pattern {
        Some(p) if hit => View {
            caps: patterns.caps(p, line),
            ..plain
        },
        _ => plain,
    };
    let passes = hit && rule.filter.as_ref().is_none_or(|f| f.accepts(&view));
    let obs = match &rule.ratio {
        Some((over, _)) => {
            if !over.as_ref().is_none_or(|f| f.accepts(&view)) {
                return None;
            }
            Obs::Set(f64::from(u8::from(passes)))
        }
        None if !passes => return None,
        None => obs(rule.kind, rule.number(&view)?),
    };
    Some((view, obs))
}

impl Rules {
    /// Exports the series of the rules that `declare` them, at 0 (or as they were).
    pub fn declare(&self, store: &mut Store, now: f64) {
        let empty = Record::new();
        for rule in self.rules.iter().filter(|r| r.declare) {
            let origin = rule.source.as_deref().unwrap_or("");
            let Some(r) = resolve(store, rule, &View::new(origin, &empty)) else {
                continue;
            };
            match rule.kind {
                Kind::Counter => store.apply(r, Obs::Add(0.0), now),
                Kind::Gauge if !store.last(r).is_finite() => store.apply(r, Obs::Set(0.0), now),
                _ => {}
            }
        }
    }
}

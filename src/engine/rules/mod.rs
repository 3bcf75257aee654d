//! Rules: from records to KPI samples, for every kind of record.
//!
//! Every record the engine applies goes through [`Rules::apply`], whatever it came from: a
//! parsed log line, a span close, an event or a metric sample from an app. Each rule reads
//! one [`RecordKind`]; the zero-config KPIs are built-in rules of the same engine
//! (`builtin`): `log_lines_total{source,level}` and `log_parse_errors_total{source}` for
//! lines, `span_total`, `span_duration_seconds` and `span_errors_total{app,span}` for spans,
//! `events_total{app,level}` for events, `app_dropped_total{app,level}` for what apps report
//! dropping; plus the automatic KPIs of `auto` (numeric fields of lines, the `counter.X` /
//! `gauge.X` / `histogram.X` fields of events, metric samples) and the natural KPIs of lines
//! (`natural`: HTTP requests, and each field as `fields` infers it or the source's `fields`
//! override says). Lines that continue a multi-line record count in
//! `log_joined_lines_total{source}`. Explicit `[[rule]]`s add
//! counters, gauges (set or added to), distributions and ratios, in the language of
//! docs/rules.md: a `match` pattern of their own whose captures they read (`pattern`), a
//! filter and a value expression (`crate::engine::filter`), labels read, renamed, mapped or
//! constant (`label`), series declared up front (`observe`), ratios of one KPI over another
//! fed by the counter rules they divide (`ratio`, linked in `link`), and sessions: a start
//! rule's time under a key, read by the rules whose value is the time `since` it
//! (`session`).
//!
//! Each origin (a source or an app) keeps bounded caches from label values to series, so the
//! per-record path looks up bytes and allocates nothing once warm, and memory stays bounded
//! whatever the input (`cache`).

mod auto;
mod builtin;
mod cache;
mod compile;
mod dry;
mod fields;
mod label;
mod link;
mod natural;
mod observe;
mod pattern;
mod ratio;
mod session;

pub use builtin::span_role;
pub(crate) use builtin::{SPAN_DURATION, SPAN_ERRORS, SPAN_TOTAL};
pub use dry::DrySample;

use super::filter::{Arith, Filter, Key, View};
use crate::config::{FieldKind, RuleInput};
use crate::kpi::{Kind, Obs, SeriesRef, SeriesSpec, Store};
use cache::RefCache;
use kpid_parsers::Record;
use label::Label;
use observe::{observe, resolve};
use pattern::Patterns;
use rustc_hash::FxHashMap;
use std::sync::Arc;

const LEVELS: [&str; 6] = ["error", "warn", "info", "debug", "trace", "none"];

/// What a record is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecordKind {
    /// A parsed log line.
    Line = 0,
    /// A span close from an app.
    Span = 1,
    /// An event from an app.
    Event = 2,
    /// A metric sample from an app.
    Metric = 3,
    /// An app's report of records it dropped (field `dropped`, per level).
    Drops = 4,
}

impl From<RuleInput> for RecordKind {
    fn from(i: RuleInput) -> Self {
        match i {
            RuleInput::Line => RecordKind::Line,
            RuleInput::Span => RecordKind::Span,
            RuleInput::Event => RecordKind::Event,
            RuleInput::Metric => RecordKind::Metric,
        }
    }
}

#[derive(Debug)]
struct Rule {
    name: String,
    kind: Kind,
    input: RecordKind,
    /// What it adds, sets or observes (none: `scale`, a counter's 1).
    value: Option<Arith>,
    scale: f64,
    offset: f64,
    unit: String,
    help: String,
    /// Labels; rules that share them share the one allocation (see the key reuse).
    labels: Arc<[Label]>,
    filter: Option<Filter>,
    source: Option<String>,
    buckets: Option<Arc<[f64]>>,
    /// Its `match` pattern, in [`Rules::patterns`].
    pattern: Option<usize>,
    /// A gauge that adds to its last value.
    add: bool,
    /// Exported (0) from the start.
    declare: bool,
    /// A ratio rule: the denominator's filter and the window's slot width in seconds.
    ratio: Option<(Option<Filter>, f64)>,
    /// The ratios of KPIs it feeds (a counter named as a `numerator` or `denominator`).
    feeds: Vec<ratio::Feed>,
    /// A session's start or end (`kind = "start"`, `since`).
    session: Option<Session>,
}

/// What a rule does with sessions: the start rule's index in [`Rules::sessions`] and the
/// field that keys them.
#[derive(Debug)]
enum Session {
    /// Records the record's time under its key.
    Start(usize, Key),
    /// Its value is the time since the start under its key, which it then forgets.
    End(usize, Key),
}

/// Per-origin caches of resolved series.
#[derive(Debug, Default)]
struct Cache {
    lines: [Option<Option<SeriesRef>>; 6],
    errors: Option<Option<SeriesRef>>,
    joined: Option<Option<SeriesRef>>,
    /// What the source's parser had recognised at the last batch: format switches and
    /// continuation lines past a record's cap, and their series.
    format: ([u64; 2], [Option<Option<SeriesRef>>; 2]),
    /// The natural KPIs of lines: inferred fields, labels, HTTP requests.
    fields: natural::FieldState,
    convention: RefCache<(Option<SeriesRef>, f64, f64)>,
    metrics: RefCache<(Option<SeriesRef>, f64, f64)>,
    rules: Vec<RefCache>,
}

/// Most origins (sources and apps) with caches; past it, the caches are dropped and rebuilt.
const MAX_ORIGINS: usize = 1024;

/// The compiled rules and their caches.
#[derive(Debug)]
pub struct Rules {
    rules: Vec<Rule>,
    by_input: [Vec<usize>; 5],
    auto_gauges: bool,
    consumed: Vec<Vec<u8>>,
    /// Per source: the kinds its `fields` override gives.
    overrides: FxHashMap<String, FxHashMap<Vec<u8>, FieldKind>>,
    caches: Origins,
    /// Cache caps, from the store's caps.
    rule_cap: usize,
    auto_cap: usize,
    /// Per kind: does a `[[rule]]` of the user read it (then records carry every field)?
    user_rules: [bool; 5],
    key: Vec<u8>,
    patterns: Patterns,
    /// The windows of ratio rules, by series.
    ratios: FxHashMap<SeriesRef, natural::Window>,
    /// The ratios of one KPI over another.
    kpi_ratios: Vec<ratio::KpiRatio>,
    /// The open keys of each start rule.
    sessions: Vec<session::Sessions>,
    /// The sessions a record's end rules read, forgotten once its rules have run.
    ends: Vec<(usize, Box<[u8]>, u64)>,
}

fn obs(kind: Kind, v: f64) -> Obs {
    match kind {
        Kind::Counter => Obs::Add(v),
        Kind::Gauge => Obs::Set(v),
        Kind::Distribution => Obs::Observe(v),
    }
}

/// The caches of every origin, and which one was used last: the records of a batch share
/// their origin's `Arc`, so most records find their cache by pointer, without hashing.
#[derive(Debug, Default)]
struct Origins {
    index: FxHashMap<Arc<str>, usize>,
    caches: Vec<(Arc<str>, Cache)>,
    last: usize,
}

impl Origins {
    fn of(&mut self, origin: &Arc<str>, nrules: usize) -> &mut Cache {
        let hit = self
            .caches
            .get(self.last)
            .is_some_and(|(o, _)| Arc::ptr_eq(o, origin));
        if !hit {
            self.last = match self.index.get(&**origin) {
                Some(&i) => i,
                None => {
                    if self.caches.len() >= MAX_ORIGINS {
                        self.caches.clear();
                        self.index.clear();
                    }
                    let cache = Cache {
                        rules: (0..nrules).map(|_| RefCache::default()).collect(),
                        ..Cache::default()
                    };
                    self.caches.push((origin.clone(), cache));
                    self.index.insert(origin.clone(), self.caches.len() - 1);
                    self.caches.len() - 1
                }
            };
        }
        &mut self.caches[self.last].1
    }
}

/// Adds 1 to the series in `slot`, resolving it from `spec` the first time.
fn count_one(
    store: &mut Store,
    slot: &mut Option<Option<SeriesRef>>,
    spec: &SeriesSpec<'_>,
    now: f64,
) {
    if let Some(r) = *slot.get_or_insert_with(|| store.resolve(spec)) {
        store.apply(r, Obs::Add(1.0), now);
    }
}

impl Rules {
    /// True when every field of a record of `kind` matters: a `[[rule]]` of the user reads
    /// that kind (the built-in rules of spans read only `span`, `duration` and `error`).
    pub fn wants_fields(&self, kind: RecordKind) -> bool {
        self.user_rules[kind as usize]
    }

    /// Applies one record of `kind` from `origin` (a source's name, or an app's) to the store.
    pub fn apply(
        &mut self,
        store: &mut Store,
        origin: &Arc<str>,
        kind: RecordKind,
        rec: &Record<'_>,
        now: f64,
    ) {
        self.apply_line(store, origin, kind, rec, (&[], &[]), now);
    }

    /// Applies one record, with the text its rules' `match` patterns run on and the path of
    /// the file it came from (`(line, file)`; empty for records that are not lines).
    pub fn apply_line(
        &mut self,
        store: &mut Store,
        origin: &Arc<str>,
        kind: RecordKind,
        rec: &Record<'_>,
        (line, file): (&[u8], &[u8]),
        now: f64,
    ) {
        let cache = self.caches.of(origin, self.rules.len());
        let li = rec.level.map_or(5, |l| l as usize);
        match kind {
            RecordKind::Line => {
                let labels = [("source", &**origin), ("level", LEVELS[li])];
                count_one(store, &mut cache.lines[li], &builtin::lines(&labels), now);
                if self.auto_gauges {
                    let ctx = natural::Ctx {
                        source: origin,
                        cap: self.auto_cap,
                        consumed: &self.consumed,
                        overrides: self.overrides.get(&**origin),
                        now,
                    };
                    cache
                        .fields
                        .apply(&mut natural::Out::Store(store), &ctx, rec);
                }
            }
            RecordKind::Event => {
                auto::convention(store, cache, self.auto_cap, origin, rec, now);
            }
            RecordKind::Metric => {
                auto::metric(store, cache, self.auto_cap, &mut self.key, origin, rec, now);
            }
            RecordKind::Span | RecordKind::Drops => {}
        }
        self.patterns.next_record();
        let plain = View {
            source: origin,
            file,
            rec,
            caps: Default::default(),
        };
        // The rule whose labels the key in `self.key` was built from, for this record.
        let mut keyed: Option<usize> = None;
        for &i in &self.by_input[kind as usize] {
            let rule = &self.rules[i];
            let Some((view, mut obs)) = observe(rule, &mut self.patterns, plain, line) else {
                continue;
            };
            if let Some(s) = &rule.session {
                match session_step(s, &view, now, store, &mut self.sessions, &mut self.ends) {
                    Some(elapsed) => obs = rule.elapsed(elapsed),
                    None => continue,
                }
            }
            // Rules with the labels of the rule before (the built-in span rules) share its
            // key; so do rules without a `match` (captures change what a label reads).
            let reuse = rule.pattern.is_none()
                && keyed.is_some_and(|k| {
                    self.rules[k].pattern.is_none()
                        && Arc::ptr_eq(&self.rules[k].labels, &rule.labels)
                });
            if !reuse {
                keyed = Some(i);
                self.key.clear();
                for l in rule.labels.iter() {
                    l.key_into(&view, li as u8, &mut self.key);
                    self.key.push(0xff);
                }
            }
            let Some(r) =
                cache.rules[i].get_or(&self.key, self.rule_cap, || resolve(store, rule, &view))
            else {
                continue;
            };
            let obs = match (obs, &rule.ratio) {
                (Obs::Set(yes), Some((_, width))) => {
                    let w = self.ratios.entry(r).or_default();
                    Obs::Set(w.push(now / width, yes > 0.5))
                }
                (Obs::Set(v), None) if rule.add => {
                    let last = store.last(r);
                    Obs::Set(if last.is_finite() { last + v } else { v })
                }
                (obs, _) => obs,
            };
            store.apply(r, obs, now);
            if let (false, Obs::Add(amount)) = (rule.feeds.is_empty(), obs) {
                let fed = ratio::Fed {
                    labels: &rule.labels,
                    view: &view,
                    amount,
                    now,
                };
                let (cap, ratios) = (self.rule_cap, &mut self.kpi_ratios);
                ratio::feed(ratios, &self.rules, &rule.feeds, &fed, store, cap);
            }
        }
        if !self.ends.is_empty() {
            let stats = store.session_stats_mut();
            for (at, key, seq) in self.ends.drain(..) {
                self.sessions[at].end(&key, seq, stats);
            }
        }
    }

    /// Counts a line that continues the record before it (a multi-line record's line) in
    /// `log_joined_lines_total{source}`; no rule sees it.
    pub fn joined(&mut self, store: &mut Store, source: &Arc<str>, now: f64) {
        let cache = self.caches.of(source, self.rules.len());
        let labels = [("source", &**source)];
        count_one(store, &mut cache.joined, &builtin::joined(&labels), now);
    }

    /// Counts a line past a multi-line record's cap (made a record of its own) in
    /// `log_join_overflows_total{source}`.
    pub fn join_overflow(&mut self, store: &mut Store, source: &Arc<str>, now: f64) {
        let cache = self.caches.of(source, self.rules.len());
        let labels = [("source", &**source)];
        count_one(
            store,
            &mut cache.format.1[1],
            &builtin::overflows(&labels),
            now,
        );
    }

    /// Counts what the `auto` parser of `source` recognised since the last batch: format
    /// switches in `log_format_switches_total{source}`, continuation lines past a record's
    /// cap in `log_join_overflows_total{source}`.
    pub fn format_stats(
        &mut self,
        store: &mut Store,
        source: &Arc<str>,
        stats: Option<kpid_parsers::FormatStats>,
        now: f64,
    ) {
        let Some(stats) = stats else { return };
        let cache = self.caches.of(source, self.rules.len());
        let labels = [("source", &**source)];
        let specs = [builtin::switches(&labels), builtin::overflows(&labels)];
        for (i, (now_total, spec)) in [stats.switches, stats.overflows]
            .into_iter()
            .zip(specs)
            .enumerate()
        {
            let delta = now_total.saturating_sub(cache.format.0[i]);
            cache.format.0[i] = now_total;
            if delta > 0 {
                if let Some(r) = *cache.format.1[i].get_or_insert_with(|| store.resolve(&spec)) {
                    store.apply(r, Obs::Add(delta as f64), now);
                }
            }
        }
    }

    /// Counts a line the parser of `source` rejected: in `log_lines_total` (level `none`) and
    /// `log_parse_errors_total`. No other rule sees it: a rejected line has no fields.
    pub fn parse_error(&mut self, store: &mut Store, source: &Arc<str>, now: f64) {
        let cache = self.caches.of(source, self.rules.len());
        let labels = [("source", &**source), ("level", LEVELS[5])];
        count_one(store, &mut cache.lines[5], &builtin::lines(&labels), now);
        let labels = [("source", &**source)];
        count_one(
            store,
            &mut cache.errors,
            &builtin::parse_errors(&labels),
            now,
        );
    }
}

/// A start or end rule's step on a record that passed it: a start records the time under
/// the record's key (`None`: nothing to observe); an end gives the time since (`None` when
/// the key has no open start or the record no key) and is queued to forget the key.
fn session_step(
    s: &Session,
    view: &View<'_, '_>,
    now: f64,
    store: &mut Store,
    sessions: &mut [session::Sessions],
    ends: &mut Vec<(usize, Box<[u8]>, u64)>,
) -> Option<f64> {
    let (Session::Start(at, key) | Session::End(at, key)) = s;
    let mut text = Vec::new();
    let stats = store.session_stats_mut();
    if !view.text(key, &mut text) {
        if let Session::End(..) = s {
            stats.unmatched += 1;
        }
        return None;
    }
    match s {
        Session::Start(..) => {
            sessions[*at].start(&text, now, stats);
            None
        }
        Session::End(..) => {
            let (elapsed, seq) = sessions[*at].since(&text, now, stats)?;
            ends.push((*at, text.into(), seq));
            Some(elapsed)
        }
    }
}

#[cfg(test)]
mod lang_tests;
#[cfg(test)]
mod line_tests;
#[cfg(test)]
mod tests;

//! Rules: from records to KPI samples, for every kind of record.
//!
//! Every record the engine applies goes through [`Rules::apply`], whatever it came from: a
//! parsed log line, a span close, an event or a metric sample from an app. Each rule reads
//! one [`RecordKind`]; the zero-config KPIs are built-in rules of the same engine
//! (`builtin`): `log_lines_total{source,level}` and `log_parse_errors_total{source}` for
//! lines, `span_total`, `span_duration_seconds` and `span_errors_total{app,span}` for spans,
//! `events_total{app,level}` for events, `app_dropped_total{app,level}` for what apps report
//! dropping; plus the automatic KPIs of `auto` (numeric fields of lines, the `counter.X` /
//! `gauge.X` / `histogram.X` fields of events, metric samples). Explicit `[[rule]]`s add
//! counters, gauges and distributions with labels, a filter and a scale.
//!
//! Each origin (a source or an app) keeps bounded caches from label values to series, so the
//! per-record path looks up bytes and allocates nothing once warm, and memory stays bounded
//! whatever the input (`cache`).

mod auto;
mod builtin;
mod cache;

use super::filter::{number, Filter};
use crate::config::{Config, ConfigError, RuleInput, RuleKind};
use crate::kpi::units;
use crate::kpi::{sanitize_name, Kind, Limits, Obs, SeriesRef, SeriesSpec, Store};
use cache::RefCache;
use kpid_parsers::{Record, Value};
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
    field: Option<Vec<u8>>,
    scale: f64,
    offset: f64,
    unit: String,
    help: String,
    labels: Vec<String>,
    filter: Option<Filter>,
    source: Option<String>,
    buckets: Option<Arc<[f64]>>,
}

/// Per-origin caches of resolved series.
#[derive(Debug, Default)]
struct Cache {
    lines: [Option<Option<SeriesRef>>; 6],
    errors: Option<Option<SeriesRef>>,
    /// Auto gauges by field key: the series and the unit conversion (scale, offset).
    gauges: RefCache<(Option<SeriesRef>, f64, f64)>,
    convention: RefCache<(Option<SeriesRef>, f64, f64)>,
    metrics: RefCache<(Option<SeriesRef>, f64, f64)>,
    rules: Vec<RefCache>,
}

/// Most origins (sources and apps) with caches; past it, the caches are dropped and rebuilt.
const MAX_ORIGINS: usize = 1024;

/// One sample a record would produce (for `kpid parse`).
#[derive(Debug, Clone, PartialEq)]
pub struct DrySample {
    /// KPI id.
    pub id: String,
    /// Observation.
    pub obs: Obs,
}

/// The compiled rules and their caches.
#[derive(Debug)]
pub struct Rules {
    rules: Vec<Rule>,
    by_input: [Vec<usize>; 5],
    auto_gauges: bool,
    consumed: Vec<Vec<u8>>,
    caches: FxHashMap<Arc<str>, Cache>,
    /// Cache caps, from the store's caps.
    rule_cap: usize,
    auto_cap: usize,
    /// Times the origin caches were dropped for being too many.
    pub cache_resets: u64,
    key: Vec<u8>,
}

/// A label's value for a new series: the field's text as written (`007`, `1.10`, `10ms`), or
/// the text of the slot a key like `module`, `time`, `msg` fills (see [`Record::lookup`]).
fn label_value(name: &str, source: &str, rec: &Record<'_>) -> String {
    match name {
        "source" | "app" => source.to_owned(),
        "level" => rec.level.map_or("none", |l| l.as_str()).to_owned(),
        _ => {
            let mut text = Vec::new();
            rec.text_into(name.as_bytes(), &mut text);
            String::from_utf8_lossy(&text).into_owned()
        }
    }
}

fn obs(kind: Kind, v: f64) -> Obs {
    match kind {
        Kind::Counter => Obs::Add(v),
        Kind::Gauge => Obs::Set(v),
        Kind::Distribution => Obs::Observe(v),
    }
}

fn cache_of<'c>(
    caches: &'c mut FxHashMap<Arc<str>, Cache>,
    resets: &mut u64,
    origin: &Arc<str>,
    nrules: usize,
) -> &'c mut Cache {
    // Looked up by `&str` first: no reference-count traffic on the per-record path.
    if !caches.contains_key(&**origin) {
        if caches.len() >= MAX_ORIGINS {
            caches.clear();
            *resets += 1;
        }
        let cache = Cache {
            rules: (0..nrules).map(|_| RefCache::default()).collect(),
            ..Cache::default()
        };
        caches.insert(origin.clone(), cache);
    }
    caches.get_mut(&**origin).expect("just inserted")
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
    /// Compiles the rules of a config (after the built-in ones); errors name the rule's line
    /// and field. Cache caps follow the store's `limits`.
    pub fn new(cfg: &Config, limits: &Limits) -> Result<Rules, ConfigError> {
        let mut rules = builtin::rules();
        let mut consumed = Vec::new();
        for r in &cfg.rules {
            let mut name = String::new();
            sanitize_name(r.name.get_ref().as_bytes(), &mut name);
            if name != *r.name.get_ref() {
                return Err(cfg.error_at(
                    r.name.span().start,
                    format!(
                        "rule `{}`: field `name` must match [a-zA-Z_][a-zA-Z0-9_]* (try `{name}`)",
                        r.name.get_ref()
                    ),
                ));
            }
            let filter = match &r.filter {
                Some(f) => Some(Filter::parse(f.get_ref()).map_err(|e| {
                    cfg.error_at(
                        f.span().start,
                        format!("rule `{name}`: field `filter`: {e}"),
                    )
                })?),
                None => None,
            };
            let buckets = match &r.buckets {
                Some(b) => {
                    let v = b.get_ref();
                    if r.kind != RuleKind::Distribution
                        || v.is_empty()
                        || v.windows(2).any(|w| w[0] >= w[1])
                        || v.iter().any(|x| !x.is_finite())
                    {
                        return Err(cfg.error_at(b.span().start, format!("rule `{name}`: field `buckets` must be increasing finite bounds on a distribution rule")));
                    }
                    Some(Arc::from(v.as_slice()))
                }
                None => None,
            };
            if let (Some(f), RuleInput::Line) = (&r.field, r.input) {
                consumed.push(f.as_bytes().to_vec());
            }
            let kind = match r.kind {
                RuleKind::Counter => Kind::Counter,
                RuleKind::Gauge => Kind::Gauge,
                RuleKind::Distribution => Kind::Distribution,
            };
            // Exposed under a Prometheus name in base units (`latency_ms` → `latency_seconds`,
            // values × 0.001; counters end in `_total`): see `kpi::units`.
            let exposed = units::for_rule(&name, kind, &r.unit);
            rules.push(Rule {
                kind,
                input: r.input.into(),
                field: r.field.as_ref().map(|f| f.as_bytes().to_vec()),
                scale: r.scale * exposed.scale,
                offset: if kind == Kind::Counter {
                    0.0
                } else {
                    exposed.offset
                },
                unit: if exposed.unit.is_empty() {
                    r.unit.clone()
                } else {
                    exposed.unit.to_owned()
                },
                help: if r.help.is_empty() {
                    format!("rule {name}")
                } else {
                    r.help.clone()
                },
                labels: r.labels.clone(),
                filter,
                source: r.source.clone(),
                buckets,
                name: exposed.name,
            });
        }
        let mut by_input: [Vec<usize>; 5] = Default::default();
        for (i, r) in rules.iter().enumerate() {
            by_input[r.input as usize].push(i);
        }
        Ok(Rules {
            rules,
            by_input,
            auto_gauges: cfg.auto_gauges,
            consumed,
            caches: FxHashMap::default(),
            // Past its name's label-set cap every new value folds into one `other` series.
            rule_cap: limits.max_label_sets + 1,
            auto_cap: limits.max_series,
            cache_resets: 0,
            key: Vec::new(),
        })
    }

    fn obs(rule: &Rule, rec: &Record<'_>) -> Option<Obs> {
        let v = match &rule.field {
            // A field, else the slot a key like `ts` fills (see `Record::lookup`).
            Some(f) => number(&rec.lookup(f)?)? * rule.scale + rule.offset,
            None => rule.scale,
        };
        Some(obs(rule.kind, v))
    }

    fn applies(rule: &Rule, origin: &str, rec: &Record<'_>) -> bool {
        rule.source.as_deref().is_none_or(|s| s == origin)
            && rule.filter.as_ref().is_none_or(|f| f.matches(origin, rec))
    }

    fn auto_gauge(&self, key: &[u8], v: &Value<'_>) -> bool {
        self.auto_gauges && v.is_numeric() && !self.consumed.iter().any(|c| c == key)
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
        let nrules = self.rules.len();
        let cache = cache_of(&mut self.caches, &mut self.cache_resets, origin, nrules);
        let li = rec.level.map_or(5, |l| l as usize);
        match kind {
            RecordKind::Line => {
                let labels = [("source", &**origin), ("level", LEVELS[li])];
                count_one(store, &mut cache.lines[li], &builtin::lines(&labels), now);
                if self.auto_gauges {
                    auto::gauges(
                        store,
                        cache,
                        self.auto_cap,
                        &self.consumed,
                        origin,
                        rec,
                        now,
                    );
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
        for &i in &self.by_input[kind as usize] {
            let rule = &self.rules[i];
            if !Self::applies(rule, origin, rec) {
                continue;
            }
            let Some(obs) = Self::obs(rule, rec) else {
                continue;
            };
            self.key.clear();
            for l in &rule.labels {
                match l.as_str() {
                    "source" | "app" => {}
                    "level" => self.key.push(li as u8),
                    // The same text as `label_value`, appended without allocating.
                    _ => {
                        rec.text_into(l.as_bytes(), &mut self.key);
                    }
                }
                self.key.push(0xff);
            }
            let r = cache.rules[i].get_or(&self.key, self.rule_cap, || {
                let values: Vec<(String, String)> = rule
                    .labels
                    .iter()
                    .map(|l| (l.clone(), label_value(l, origin, rec)))
                    .collect();
                let labels: Vec<(&str, &str)> = values
                    .iter()
                    .map(|(k, v)| (k.as_str(), v.as_str()))
                    .collect();
                store.resolve(&SeriesSpec {
                    name: &rule.name,
                    labels: &labels,
                    kind: rule.kind,
                    unit: &rule.unit,
                    help: &rule.help,
                    buckets: rule.buckets.as_ref(),
                })
            });
            if let Some(r) = r {
                store.apply(r, obs, now);
            }
        }
    }

    /// Counts a line the parser of `source` rejected: in `log_lines_total` (level `none`) and
    /// `log_parse_errors_total`. No other rule sees it: a rejected line has no fields.
    pub fn parse_error(&mut self, store: &mut Store, source: &Arc<str>, now: f64) {
        let nrules = self.rules.len();
        let cache = cache_of(&mut self.caches, &mut self.cache_resets, source, nrules);
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

    /// The samples a line would produce, without touching a store (for `kpid parse`).
    pub fn dry_run(&self, source: &str, rec: &Record<'_>) -> Vec<DrySample> {
        let mut out = vec![DrySample {
            id: format!(
                "log_lines_total{{level=\"{}\",source=\"{source}\"}}",
                rec.level.map_or("none", |l| l.as_str())
            ),
            obs: Obs::Add(1.0),
        }];
        for f in &rec.fields {
            if self.auto_gauge(&f.key, &f.value) {
                let exposed = auto::auto_gauge_unit(&f.key, &f.value);
                if let Some(v) = f.value.as_f64() {
                    out.push(DrySample {
                        id: format!("{}{{source=\"{source}\"}}", exposed.name),
                        obs: Obs::Set(exposed.apply(v)),
                    });
                }
            }
        }
        for &i in &self.by_input[RecordKind::Line as usize] {
            let rule = &self.rules[i];
            if !Self::applies(rule, source, rec) {
                continue;
            }
            if let Some(obs) = Self::obs(rule, rec) {
                let mut labels: Vec<(String, String)> = rule
                    .labels
                    .iter()
                    .map(|l| (l.clone(), label_value(l, source, rec)))
                    .collect();
                labels.sort();
                let body: Vec<String> =
                    labels.iter().map(|(k, v)| format!("{k}=\"{v}\"")).collect();
                let id = if body.is_empty() {
                    rule.name.clone()
                } else {
                    format!("{}{{{}}}", rule.name, body.join(","))
                };
                out.push(DrySample { id, obs });
            }
        }
        out
    }
}

#[cfg(test)]
mod line_tests;
#[cfg(test)]
mod tests;

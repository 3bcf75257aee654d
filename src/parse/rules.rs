//! Rules: from records to KPI samples.
//!
//! Zero-config rules (DESIGN.md): every line counts into `log_lines_total{source,level}`,
//! rejected lines into `log_parse_errors_total{source}`, and numeric fields become gauges
//! named after their key (with a `source` label). Explicit `[[rule]]`s add counters, gauges
//! and distributions with labels, a filter and a scale. Each source keeps a cache from label
//! values to series, so the per-line path looks up bytes and allocates nothing once warm.

use super::filter::{number, Filter};
use crate::config::{Config, ConfigError, RuleKind};
use crate::kpi::units::{self, FieldUnit};
use crate::kpi::{sanitize_name, Kind, Obs, SeriesRef, SeriesSpec, Store};
use kpid_parsers::{Record, Value};
use rustc_hash::FxHashMap;
use std::sync::Arc;

const LEVELS: [&str; 6] = ["error", "warn", "info", "debug", "trace", "none"];

#[derive(Debug)]
struct Rule {
    name: String,
    kind: Kind,
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

/// Per-source caches of resolved series.
#[derive(Debug, Default)]
struct Cache {
    lines: [Option<Option<SeriesRef>>; 6],
    errors: Option<Option<SeriesRef>>,
    /// Auto gauges by field key: the series and the unit conversion (`units::for_field`).
    gauges: FxHashMap<Box<[u8]>, (Option<SeriesRef>, f64, f64)>,
    rules: Vec<FxHashMap<Box<[u8]>, Option<SeriesRef>>>,
}

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
    auto_gauges: bool,
    consumed: Vec<Vec<u8>>,
    caches: FxHashMap<Arc<str>, Cache>,
    key: Vec<u8>,
}

/// A label's value for a new series: the field's text as written (`007`, `1.10`, `10ms`), or
/// the text of the slot a key like `module`, `time`, `msg` fills (see [`Record::lookup`]).
fn label_value(name: &str, source: &str, rec: &Record<'_>) -> String {
    match name {
        "source" => source.to_owned(),
        "level" => rec.level.map_or("none", |l| l.as_str()).to_owned(),
        _ => {
            let mut text = Vec::new();
            rec.text_into(name.as_bytes(), &mut text);
            String::from_utf8_lossy(&text).into_owned()
        }
    }
}

/// Name, unit and scale of the gauge a numeric field becomes (`units::for_field`; a value
/// typed as a duration is already in seconds).
fn auto_gauge_unit(key: &[u8], v: &Value<'_>) -> FieldUnit {
    let key = String::from_utf8_lossy(key);
    if matches!(v, Value::Duration(_)) {
        units::for_duration_field(&key)
    } else {
        units::for_field(&key)
    }
}

fn cache_of<'c>(
    caches: &'c mut FxHashMap<Arc<str>, Cache>,
    source: &Arc<str>,
    nrules: usize,
) -> &'c mut Cache {
    // Looked up by `&str` first: no reference-count traffic on the per-line path.
    if !caches.contains_key(&**source) {
        let cache = Cache {
            rules: (0..nrules).map(|_| FxHashMap::default()).collect(),
            ..Cache::default()
        };
        caches.insert(source.clone(), cache);
    }
    caches.get_mut(&**source).expect("just inserted")
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
    /// Compiles the rules of a config; errors name the rule's line and field.
    pub fn new(cfg: &Config) -> Result<Rules, ConfigError> {
        let mut rules = Vec::new();
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
            if let Some(f) = &r.field {
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
        Ok(Rules {
            rules,
            auto_gauges: cfg.auto_gauges,
            consumed,
            caches: FxHashMap::default(),
            key: Vec::new(),
        })
    }

    fn obs(rule: &Rule, rec: &Record<'_>) -> Option<Obs> {
        let v = match &rule.field {
            // A field, else the slot a key like `ts` fills (see `Record::lookup`).
            Some(f) => number(&rec.lookup(f)?)? * rule.scale + rule.offset,
            None => rule.scale,
        };
        Some(match rule.kind {
            Kind::Counter => Obs::Add(v),
            Kind::Gauge => Obs::Set(v),
            Kind::Distribution => Obs::Observe(v),
        })
    }

    fn applies(rule: &Rule, source: &str, rec: &Record<'_>) -> bool {
        rule.source.as_deref().is_none_or(|s| s == source)
            && rule.filter.as_ref().is_none_or(|f| f.matches(source, rec))
    }

    fn auto_gauge(&self, key: &[u8], v: &Value<'_>) -> bool {
        self.auto_gauges && v.is_numeric() && !self.consumed.iter().any(|c| c == key)
    }

    /// Applies one parsed record from `source` to the store.
    pub fn apply(&mut self, store: &mut Store, source: &Arc<str>, rec: &Record<'_>, now: f64) {
        let cache = cache_of(&mut self.caches, source, self.rules.len());
        let li = rec.level.map_or(5, |l| l as usize);
        let spec = SeriesSpec {
            name: "log_lines_total",
            labels: &[("source", source), ("level", LEVELS[li])],
            kind: Kind::Counter,
            unit: "lines",
            help: "log lines read, by source and level",
            buckets: None,
        };
        count_one(store, &mut cache.lines[li], &spec, now);
        if self.auto_gauges {
            for f in &rec.fields {
                if !f.value.is_numeric() || self.consumed.iter().any(|c| *c == *f.key) {
                    continue;
                }
                let (r, scale, offset) = match cache.gauges.get(f.key.as_ref()) {
                    Some(r) => *r,
                    None => {
                        let exposed = auto_gauge_unit(&f.key, &f.value);
                        let help = format!(
                            "numeric field `{}` of parsed lines",
                            String::from_utf8_lossy(&f.key)
                        );
                        let r = store.resolve(&SeriesSpec {
                            name: &exposed.name,
                            labels: &[("source", source)],
                            kind: Kind::Gauge,
                            unit: exposed.unit,
                            help: &help,
                            buckets: None,
                        });
                        let entry = (r, exposed.scale, exposed.offset);
                        cache.gauges.insert(f.key.as_ref().into(), entry);
                        entry
                    }
                };
                if let (Some(r), Some(v)) = (r, f.value.as_f64()) {
                    store.apply(r, Obs::Set(v * scale + offset), now);
                }
            }
        }
        for (i, rule) in self.rules.iter().enumerate() {
            if !Self::applies(rule, source, rec) {
                continue;
            }
            let Some(obs) = Self::obs(rule, rec) else {
                continue;
            };
            self.key.clear();
            for l in &rule.labels {
                match l.as_str() {
                    "source" => {}
                    "level" => self.key.push(li as u8),
                    // The same text as `label_value`, appended without allocating.
                    _ => {
                        rec.text_into(l.as_bytes(), &mut self.key);
                    }
                }
                self.key.push(0xff);
            }
            let r = match cache.rules[i].get(self.key.as_slice()) {
                Some(r) => *r,
                None => {
                    let values: Vec<(String, String)> = rule
                        .labels
                        .iter()
                        .map(|l| (l.clone(), label_value(l, source, rec)))
                        .collect();
                    let labels: Vec<(&str, &str)> = values
                        .iter()
                        .map(|(k, v)| (k.as_str(), v.as_str()))
                        .collect();
                    let r = store.resolve(&SeriesSpec {
                        name: &rule.name,
                        labels: &labels,
                        kind: rule.kind,
                        unit: &rule.unit,
                        help: &rule.help,
                        buckets: rule.buckets.as_ref(),
                    });
                    cache.rules[i].insert(self.key.as_slice().into(), r);
                    r
                }
            };
            if let Some(r) = r {
                store.apply(r, obs, now);
            }
        }
    }

    /// Counts a line the parser of `source` rejected: in `log_lines_total` (level `none`) and
    /// `log_parse_errors_total`. No other rule sees it: a rejected line has no fields.
    pub fn parse_error(&mut self, store: &mut Store, source: &Arc<str>, now: f64) {
        let cache = cache_of(&mut self.caches, source, self.rules.len());
        let lines = SeriesSpec {
            name: "log_lines_total",
            labels: &[("source", source), ("level", LEVELS[5])],
            kind: Kind::Counter,
            unit: "lines",
            help: "log lines read, by source and level",
            buckets: None,
        };
        count_one(store, &mut cache.lines[5], &lines, now);
        let errors = SeriesSpec {
            name: "log_parse_errors_total",
            labels: &[("source", source)],
            kind: Kind::Counter,
            unit: "lines",
            help: "lines the parser rejected, by source",
            buckets: None,
        };
        count_one(store, &mut cache.errors, &errors, now);
    }

    /// The samples a record would produce, without touching a store (for `kpid parse`).
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
                let exposed = auto_gauge_unit(&f.key, &f.value);
                if let Some(v) = f.value.as_f64() {
                    out.push(DrySample {
                        id: format!("{}{{source=\"{source}\"}}", exposed.name),
                        obs: Obs::Set(exposed.apply(v)),
                    });
                }
            }
        }
        for rule in &self.rules {
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

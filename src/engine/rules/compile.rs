//! Compiling the `[[rule]]`s of a config, after the built-in ones.

use super::label::{self, Label};
use super::pattern::Patterns;
use super::{builtin, Rule, Rules};
use crate::config::{Config, ConfigError, RuleConfig, RuleInput, RuleKind};
use crate::engine::filter::{Arith, Filter};
use crate::kpi::{sanitize_name, units, Kind, Limits};
use std::sync::Arc;

impl Rules {
    /// Compiles the rules of a config (after the built-in ones); errors name the rule's line
    /// and field. Cache caps follow the store's `limits`.
    pub fn new(cfg: &Config, limits: &Limits) -> Result<Rules, ConfigError> {
        let mut rules = builtin::rules();
        let mut consumed = Vec::new();
        let mut patterns = Patterns::default();
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
            let extra = compile_extra(cfg, r, &name, &mut patterns)?;
            if let (Some(v), RuleInput::Line) = (&extra.value, r.input) {
                consumed.extend(v.keys().into_iter().map(<[u8]>::to_vec));
            }
            let kind = match r.kind {
                // A start rule makes no series: the kind is never used.
                RuleKind::Counter | RuleKind::Start => Kind::Counter,
                RuleKind::Gauge | RuleKind::Ratio => Kind::Gauge,
                RuleKind::Distribution => Kind::Distribution,
            };
            // Exposed under a Prometheus name in base units (`latency_ms` → `latency_seconds`,
            // values × 0.001; counters end in `_total`): see `kpi::units`.
            let exposed = units::for_rule(&name, kind, &r.unit);
            rules.push(Rule {
                kind,
                input: r.input.into(),
                value: extra.value,
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
                labels: extra.labels.into(),
                filter,
                source: r.source.clone(),
                buckets,
                name: exposed.name,
                pattern: extra.pattern,
                add: r.add,
                declare: r.declare,
                ratio: extra.ratio,
                feeds: Vec::new(),
                session: None,
            });
        }
        let first = builtin::rules().len();
        let links = super::link::link(cfg, &mut rules, first)?;
        let mut user_rules = [false; 5];
        let mut by_input: [Vec<usize>; 5] = Default::default();
        for (i, r) in rules.iter().enumerate() {
            // A ratio of KPIs reads no record: what feeds it does.
            if links.kpi_ratios.iter().any(|k| k.rule == i) {
                continue;
            }
            user_rules[r.input as usize] |= i >= first;
            by_input[r.input as usize].push(i);
        }
        let overrides = cfg
            .sources
            .iter()
            .filter(|s| !s.fields.is_empty())
            .map(|s| {
                let kinds = s.fields.iter().map(|(k, v)| (k.as_bytes().to_vec(), *v));
                (s.label().into_owned(), kinds.collect())
            })
            .collect();
        Ok(Rules {
            rules,
            overrides,
            by_input,
            auto_gauges: cfg.auto_gauges,
            consumed,
            caches: Default::default(),
            user_rules,
            // Past its name's label-set cap every new value folds into one `other` series.
            rule_cap: limits.max_label_sets + 1,
            auto_cap: limits.max_series,
            key: Vec::new(),
            patterns,
            ratios: Default::default(),
            kpi_ratios: links.kpi_ratios,
            sessions: links.sessions,
            ends: Vec::new(),
        })
    }
}

/// What the rule language adds to a rule: its value expression, labels, `match` pattern and
/// ratio settings.
struct Extra {
    value: Option<Arith>,
    labels: Vec<Label>,
    pattern: Option<usize>,
    ratio: Option<(Option<Filter>, f64)>,
}

fn compile_extra(
    cfg: &Config,
    r: &RuleConfig,
    name: &str,
    patterns: &mut Patterns,
) -> Result<Extra, ConfigError> {
    let at = r.name.span().start;
    let err = |at: usize, field: &str, e: &dyn std::fmt::Display| {
        cfg.error_at(at, format!("rule `{name}`: field `{field}`: {e}"))
    };
    let value = match (&r.field, &r.value) {
        (Some(_), Some(v)) => {
            return Err(err(
                v.span().start,
                "value",
                &"give `field` or `value`, not both",
            ))
        }
        (Some(f), None) => Some(Arith::field(f)),
        (None, Some(v)) => {
            Some(Arith::parse(v.get_ref()).map_err(|e| err(v.span().start, "value", &e))?)
        }
        (None, None) => None,
    };
    let mut labels: Vec<Label> = r.labels.iter().map(|l| Label::named(l)).collect();
    for (lname, c) in &r.label {
        if labels.iter().any(|l| l.name == *lname) {
            let e = format!("label `{lname}` is also in `labels`");
            return Err(err(c.span().start, "label", &e));
        }
        let l = label::Label::configured(lname, c.get_ref())
            .map_err(|e| err(c.span().start, &format!("label.{lname}"), &e))?;
        labels.push(l);
    }
    let pattern = match &r.pattern {
        Some(p) if r.input != RuleInput::Line => {
            return Err(err(
                p.span().start,
                "match",
                &"only rules of lines have a `match`",
            ))
        }
        Some(p) => Some(
            patterns
                .add(p.get_ref())
                .map_err(|e| err(p.span().start, "match", &e))?,
        ),
        None => None,
    };
    if r.declare {
        let fixed =
            |l: &Label| l.is_const() || (l.from == label::From::Source && r.source.is_some());
        if let Some(l) = labels.iter().find(|l| !fixed(l)) {
            let e = format!(
                "`declare` needs labels known before any record; `{}` is read from records",
                l.name
            );
            return Err(err(at, "declare", &e));
        }
    }
    if r.add && r.kind != RuleKind::Gauge {
        return Err(err(
            at,
            "add",
            &"only a gauge adds to its last value (a counter always adds)",
        ));
    }
    let of_kpis = r.numerator.is_some() || r.denominator.is_some();
    let ratio = if r.kind == RuleKind::Ratio && of_kpis {
        // Checked and linked to its counters in `link`; its window is set there.
        None
    } else if r.kind == RuleKind::Ratio {
        if value.is_some() {
            return Err(err(
                at,
                "value",
                &"a ratio counts records: it takes no `field` or `value`",
            ));
        }
        let over = match &r.over {
            Some(o) => {
                Some(Filter::parse(o.get_ref()).map_err(|e| err(o.span().start, "over", &e))?)
            }
            None => None,
        };
        let window = r.window.map_or(60.0, |w| w.0.as_secs_f64());
        if window < 60.0 {
            return Err(err(at, "window", &"a ratio's window is at least 60s"));
        }
        // The window is 60 slots; each `window / 60` seconds wide.
        Some((over, window / 60.0))
    } else {
        for (f, v) in [
            ("over", r.over.is_some()),
            ("window", r.window.is_some()),
            ("numerator", r.numerator.is_some()),
            ("denominator", r.denominator.is_some()),
        ] {
            if v {
                return Err(err(at, f, &"only a ratio rule takes it"));
            }
        }
        None
    };
    if r.since.is_some() && value.is_some() {
        return Err(err(
            at,
            "since",
            &"an end rule's value is the time since its start: it takes no `field` or `value`",
        ));
    }
    Ok(Extra {
        value,
        labels,
        pattern,
        ratio,
    })
}

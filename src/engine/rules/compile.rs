//! Compiling the `[[rule]]`s of a config, after the built-in ones.

use super::{builtin, Rule, Rules};
use crate::config::{Config, ConfigError, RuleInput, RuleKind};
use crate::engine::filter::Filter;
use crate::kpi::{sanitize_name, units, Kind, Limits};
use std::sync::Arc;

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
                labels: r.labels.clone().into(),
                filter,
                source: r.source.clone(),
                buckets,
                name: exposed.name,
            });
        }
        let mut user_rules = [false; 5];
        for r in &rules[builtin::rules().len()..] {
            user_rules[r.input as usize] = true;
        }
        let mut by_input: [Vec<usize>; 5] = Default::default();
        for (i, r) in rules.iter().enumerate() {
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
        })
    }
}

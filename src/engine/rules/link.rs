//! Rules that name other rules, linked once compiled: a ratio of KPIs to the counter rules
//! it divides (`numerator`, `denominator`), an end rule to its start rule (`since`).
//! Every broken link is a config error naming the rule, its line and the field.

use super::ratio::{Feed, KpiRatio};
use super::session::{Sessions, MAX_OPEN};
use super::{Rule, Session};
use crate::config::{Config, ConfigError, RuleConfig, RuleKind};
use crate::engine::filter::Key;

/// What linking built: the ratios' windows and the start rules' open keys.
#[derive(Debug, Default)]
pub(super) struct Links {
    pub kpi_ratios: Vec<KpiRatio>,
    pub sessions: Vec<Sessions>,
}

/// Links the config's rules, which are `rules[first..]` in order.
pub(super) fn link(cfg: &Config, rules: &mut [Rule], first: usize) -> Result<Links, ConfigError> {
    let mut out = Links::default();
    let err = |r: &RuleConfig, at: usize, field: &str, e: &str| {
        cfg.error_at(
            at,
            format!("rule `{}`: field `{field}`: {e}", r.name.get_ref()),
        )
    };
    // Start rules, by their index in the config, and their sessions.
    let mut starts: Vec<(usize, usize)> = Vec::new();
    for (k, r) in cfg.rules.iter().enumerate() {
        let at = r.name.span().start;
        if r.kind != RuleKind::Start {
            for (f, v) in [
                ("max_open", r.max_open.is_some()),
                ("expire", r.expire.is_some()),
            ] {
                if v {
                    return Err(err(r, at, f, "only a start rule takes it"));
                }
            }
            continue;
        }
        let Some(key) = &r.key else {
            return Err(err(
                r,
                at,
                "key",
                "a start rule needs the field that keys its sessions",
            ));
        };
        let makes_series = !r.labels.is_empty()
            || !r.label.is_empty()
            || r.declare
            || r.add
            || r.buckets.is_some()
            || r.field.is_some()
            || r.value.is_some()
            || r.since.is_some();
        if makes_series {
            let e = "a start rule makes no series: it takes no `labels`, `label`, `declare`, `add`, `buckets`, `field`, `value` or `since`";
            return Err(err(r, at, "kind", e));
        }
        let cap = r.max_open.unwrap_or(MAX_OPEN);
        if cap == 0 {
            return Err(err(r, at, "max_open", "at least 1"));
        }
        let expire = r.expire.map_or(f64::INFINITY, |d| d.0.as_secs_f64());
        out.sessions.push(Sessions::new(cap, expire));
        let key = Key::new(key.get_ref().as_bytes());
        rules[first + k].session = Some(Session::Start(out.sessions.len() - 1, key));
        starts.push((k, out.sessions.len() - 1));
    }
    for (k, r) in cfg.rules.iter().enumerate() {
        let Some(since) = &r.since else {
            if let (Some(key), false) = (&r.key, r.kind == RuleKind::Start) {
                let e = "only a start rule or an end rule (`since`) takes it";
                return Err(err(r, key.span().start, "key", e));
            }
            continue;
        };
        if r.kind == RuleKind::Ratio {
            let e = "a ratio has no `since`: a counter, gauge or distribution does";
            return Err(err(r, since.span().start, "since", e));
        }
        let start = starts
            .iter()
            .find(|(j, _)| cfg.rules[*j].name.get_ref() == since.get_ref());
        let Some(&(j, at)) = start else {
            let e = format!(
                "no start rule (`kind = \"start\"`) is named `{}`",
                since.get_ref()
            );
            return Err(err(r, since.span().start, "since", &e));
        };
        let key = r.key.as_ref().or(cfg.rules[j].key.as_ref());
        let key = Key::new(key.map_or("", |k| k.get_ref()).as_bytes());
        rules[first + k].session = Some(Session::End(at, key));
    }
    for (k, r) in cfg.rules.iter().enumerate() {
        if r.kind != RuleKind::Ratio {
            continue;
        }
        let (num, den) = match (&r.numerator, &r.denominator) {
            (None, None) => continue,
            (Some(n), Some(d)) => (n, d),
            (Some(s), None) | (None, Some(s)) => {
                let e = "a ratio of KPIs needs both `numerator` and `denominator`";
                return Err(err(r, s.span().start, "numerator", e));
            }
        };
        let at = r.name.span().start;
        for (f, v) in [
            ("match", r.pattern.is_some()),
            ("field", r.field.is_some()),
            ("value", r.value.is_some()),
            ("filter", r.filter.is_some()),
            ("over", r.over.is_some()),
            ("source", r.source.is_some()),
            ("label", !r.label.is_empty()),
            ("declare", r.declare),
        ] {
            if v {
                let e = "a ratio of KPIs reads no record: what its counters count decides";
                return Err(err(r, at, f, e));
            }
        }
        let window = r.window.map_or(60.0, |w| w.0.as_secs_f64());
        if window < 60.0 {
            return Err(err(r, at, "window", "a ratio's window is at least 60s"));
        }
        let ratio = out.kpi_ratios.len();
        out.kpi_ratios.push(KpiRatio::new(first + k, window / 60.0));
        for (side, is_num, field) in [(num, true, "numerator"), (den, false, "denominator")] {
            let mut found = false;
            for (j, c) in cfg.rules.iter().enumerate() {
                let named =
                    c.name.get_ref() == side.get_ref() || rules[first + j].name == *side.get_ref();
                if c.kind != RuleKind::Counter || !named {
                    continue;
                }
                let mut labels = Vec::new();
                for l in rules[first + k].labels.iter() {
                    let Some(p) = rules[first + j]
                        .labels
                        .iter()
                        .position(|t| t.name == l.name)
                    else {
                        let e = format!(
                            "counter `{}` has no label `{}`: a ratio's labels must be labels of both sides",
                            side.get_ref(),
                            l.name
                        );
                        return Err(err(r, side.span().start, field, &e));
                    };
                    labels.push(p);
                }
                rules[first + j].feeds.push(Feed {
                    ratio,
                    num: is_num,
                    labels: labels.into(),
                });
                found = true;
            }
            if !found {
                let e = format!(
                    "no counter rule is named `{}` (a ratio of KPIs divides counter rules of the config)",
                    side.get_ref()
                );
                return Err(err(r, side.span().start, field, &e));
            }
        }
    }
    Ok(out)
}

//! The Prometheus text exposition (format 0.0.4) of every KPI.

use super::desc::Desc;
use super::publish::Snapshot;
use super::units::{self, FieldUnit};
use super::Kind;
use std::borrow::Cow;
use std::collections::HashSet;
use std::fmt::Write;

/// A label name as Prometheus wants it: snake_case `[a-z_][a-z0-9_]*`, not `__`-prefixed, and
/// not `le`/`quantile` (those belong to histograms and summaries: `exported_le`).
pub fn label_name(k: &str) -> Cow<'_, str> {
    let ok = k
        .bytes()
        .enumerate()
        .all(|(i, b)| b.is_ascii_lowercase() || b == b'_' || (i > 0 && b.is_ascii_digit()))
        && !k.is_empty()
        && !k.starts_with("__");
    if ok && k != "le" && k != "quantile" {
        return Cow::Borrowed(k);
    }
    if k == "le" || k == "quantile" {
        return Cow::Owned(format!("exported_{k}"));
    }
    let mut s = String::with_capacity(k.len() + 4);
    let mut prev_lower = false;
    for c in k.chars() {
        if c.is_ascii_uppercase() && prev_lower {
            s.push('_');
        }
        prev_lower = c.is_ascii_lowercase() || c.is_ascii_digit();
        s.push(if c.is_ascii_alphanumeric() {
            c.to_ascii_lowercase()
        } else {
            '_'
        });
    }
    let s = s.trim_start_matches('_').to_owned();
    if s.is_empty() || s.starts_with(|c: char| c.is_ascii_digit()) {
        Cow::Owned(format!("l_{s}"))
    } else {
        Cow::Owned(s)
    }
}

fn write_labels(out: &mut String, labels: &[(String, String)], extra: Option<(&str, &str)>) {
    let names: Vec<(Cow<'_, str>, &str)> = labels
        .iter()
        .map(|(k, v)| (label_name(k), v.as_str()))
        .collect();
    let all = names.iter().map(|(k, v)| (k.as_ref(), *v)).chain(extra);
    super::write_labels(out, all);
}

fn num(x: f64) -> String {
    if x.is_nan() {
        "NaN".into()
    } else if x.is_infinite() {
        if x > 0.0 {
            "+Inf".into()
        } else {
            "-Inf".into()
        }
    } else {
        format!("{x}")
    }
}

/// Name a KPI has in the Prometheus exposition, and how its values convert (see
/// [`units::for_kpi`]: base units, counters end in `_total`, nothing else does). Names made by
/// rules and auto gauges are already exposed names (scale 1); names apps send
/// (`histogram.latency_ms`) are converted here.
pub fn exposed(desc: &Desc) -> FieldUnit {
    units::for_kpi(&desc.name, desc.kind)
}

/// Appends every KPI in the Prometheus text format 0.0.4: counters as counters, gauges as
/// gauges, distributions as summaries (quantiles over the last minute) or, when the rule
/// gave fixed buckets, as histograms. Names and values follow [`exposed`]; when two KPIs
/// expose the same name, the first kind wins and a repeated series is written once.
pub fn prometheus(snap: &Snapshot, out: &mut String) {
    let all: Vec<_> = snap.kpis.iter().map(|k| (&*k.desc, &**k)).collect();
    let mut order: Vec<(FieldUnit, usize)> = all
        .iter()
        .enumerate()
        .map(|(i, (d, _))| (exposed(d), i))
        .collect();
    order.sort_by(|a, b| a.0.name.cmp(&b.0.name).then(a.1.cmp(&b.1)));
    let mut prev: Option<(String, &'static str)> = None;
    let mut seen: HashSet<String> = HashSet::new();
    for (fu, i) in order {
        let (desc, s) = all[i];
        let pname = &fu.name;
        let ty = match (desc.kind, desc.buckets.is_some()) {
            (Kind::Counter, _) => "counter",
            (Kind::Gauge, _) => "gauge",
            (Kind::Distribution, true) => "histogram",
            (Kind::Distribution, false) => "summary",
        };
        match &prev {
            Some((n, t)) if n == pname => {
                if *t != ty {
                    continue; // same exposed name, another type: cannot be one family
                }
            }
            _ => {
                let help = if desc.help.is_empty() {
                    format!("kpi {}", desc.name)
                } else {
                    desc.help.replace('\\', "\\\\").replace('\n', "\\n")
                };
                let _ = writeln!(out, "# HELP {pname} {help}\n# TYPE {pname} {ty}");
                prev = Some((pname.clone(), ty));
            }
        }
        let mut id = pname.clone();
        write_labels(&mut id, &desc.labels, None);
        if !seen.insert(id) {
            continue;
        }
        match desc.kind {
            Kind::Counter => {
                out.push_str(pname);
                write_labels(out, &desc.labels, None);
                let _ = writeln!(out, " {}", num(s.total * fu.scale));
            }
            Kind::Gauge => {
                out.push_str(pname);
                write_labels(out, &desc.labels, None);
                let _ = writeln!(out, " {}", num(fu.apply(s.last)));
            }
            Kind::Distribution => {
                if let (Some(bounds), Some(h)) = (&desc.buckets, &s.hist) {
                    let mut cum = 0u64;
                    for (le, n) in bounds.iter().zip(h.iter()) {
                        cum += n;
                        let _ = write!(out, "{pname}_bucket");
                        write_labels(out, &desc.labels, Some(("le", &num(fu.apply(*le)))));
                        let _ = writeln!(out, " {cum}");
                    }
                    let _ = write!(out, "{pname}_bucket");
                    write_labels(out, &desc.labels, Some(("le", "+Inf")));
                    let _ = writeln!(out, " {}", s.total);
                } else {
                    let l = &s.latest;
                    for (q, v) in [("0.5", l.p50), ("0.95", l.p95), ("0.99", l.p99)] {
                        let v = v.unwrap_or(f64::NAN);
                        out.push_str(pname);
                        write_labels(out, &desc.labels, Some(("quantile", q)));
                        let _ = writeln!(out, " {}", num(fu.apply(v)));
                    }
                }
                let _ = write!(out, "{pname}_sum");
                write_labels(out, &desc.labels, None);
                let _ = writeln!(out, " {}", num(s.sum * fu.scale + s.total * fu.offset));
                let _ = write!(out, "{pname}_count");
                write_labels(out, &desc.labels, None);
                let _ = writeln!(out, " {}", s.total);
            }
        }
    }
}

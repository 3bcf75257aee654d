//! The Prometheus text exposition (format 0.0.4) of every KPI.

use super::desc::Desc;
use super::publish::Snapshot;
use super::Kind;
use std::fmt::Write;

fn write_labels(out: &mut String, labels: &[(String, String)], extra: Option<(&str, &str)>) {
    let all = labels
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .chain(extra);
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

/// Name a KPI has in the Prometheus exposition (counters end in `_total`).
pub fn prom_name(desc: &Desc) -> String {
    if desc.kind == Kind::Counter && !desc.name.ends_with("_total") {
        format!("{}_total", desc.name)
    } else {
        desc.name.clone()
    }
}

/// Appends every KPI of a snapshot in the Prometheus text format 0.0.4: counters as
/// counters, gauges as gauges, distributions as summaries (quantiles over the last minute)
/// or, when the rule gave fixed buckets, as histograms.
pub fn prometheus(snap: &Snapshot, out: &mut String) {
    let mut order: Vec<(&str, usize)> = snap
        .kpis
        .iter()
        .enumerate()
        .map(|(i, k)| (k.desc.name.as_str(), i))
        .collect();
    order.sort_by(|a, b| a.0.cmp(b.0).then(a.1.cmp(&b.1)));
    let mut prev = "";
    for (name, i) in order {
        let s = &*snap.kpis[i];
        let desc = &*s.desc;
        let pname = prom_name(desc);
        if name != prev {
            let help = if desc.help.is_empty() {
                format!("kpi {name}")
            } else {
                desc.help.replace('\\', "\\\\").replace('\n', "\\n")
            };
            let ty = match (desc.kind, desc.buckets.is_some()) {
                (Kind::Counter, _) => "counter",
                (Kind::Gauge, _) => "gauge",
                (Kind::Distribution, true) => "histogram",
                (Kind::Distribution, false) => "summary",
            };
            let _ = writeln!(out, "# HELP {pname} {help}\n# TYPE {pname} {ty}");
            prev = name;
        }
        match desc.kind {
            Kind::Counter => {
                out.push_str(&pname);
                write_labels(out, &desc.labels, None);
                let _ = writeln!(out, " {}", num(s.total));
            }
            Kind::Gauge => {
                out.push_str(&pname);
                write_labels(out, &desc.labels, None);
                let _ = writeln!(out, " {}", num(s.last));
            }
            Kind::Distribution => {
                if let (Some(bounds), Some(h)) = (&desc.buckets, &s.hist) {
                    let mut cum = 0u64;
                    for (le, n) in bounds.iter().zip(h.iter()) {
                        cum += n;
                        let _ = write!(out, "{pname}_bucket");
                        write_labels(out, &desc.labels, Some(("le", &num(*le))));
                        let _ = writeln!(out, " {cum}");
                    }
                    let _ = write!(out, "{pname}_bucket");
                    write_labels(out, &desc.labels, Some(("le", "+Inf")));
                    let _ = writeln!(out, " {}", s.total);
                } else {
                    let l = &s.latest;
                    for (q, v) in [("0.5", l.p50), ("0.95", l.p95), ("0.99", l.p99)] {
                        let v = v.unwrap_or(f64::NAN);
                        out.push_str(&pname);
                        write_labels(out, &desc.labels, Some(("quantile", q)));
                        let _ = writeln!(out, " {}", num(v));
                    }
                }
                let _ = write!(out, "{pname}_sum");
                write_labels(out, &desc.labels, None);
                let _ = writeln!(out, " {}", num(s.sum));
                let _ = write!(out, "{pname}_count");
                write_labels(out, &desc.labels, None);
                let _ = writeln!(out, " {}", s.total);
            }
        }
    }
}

//! Filling a [`Report`] from history: every KPI with data in the window, its figures over the
//! whole window and its chart columns at the report's step, the alerts of the window
//! ([`super::alerts`]) and the span table.

use super::{Report, ReportKpi, SpanRow, Summary};
use crate::history::{Agg, HistoryError, Reader, Step};
use crate::kpi::{DistBucket, Kind};
use std::collections::BTreeMap;

/// Most KPIs one report shows (the first ones by history's order).
pub const MAX_KPIS: usize = 300;
/// Most chart points per KPI.
const MAX_POINTS: i64 = 600;
const NICE: [i64; 16] = [
    1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 21600, 86400,
];

/// The step giving at most 600 points over `[from, to]`.
pub fn step_for(from: i64, to: i64) -> i64 {
    let want = ((to - from) / MAX_POINTS).max(1);
    NICE.iter().copied().find(|&s| s >= want).unwrap_or(86400)
}

fn finite(x: f64) -> Option<f64> {
    x.is_finite().then_some(x)
}

/// The value at quantile `q` of `v` (sorted).
fn quantile(v: &[f64], q: f64) -> Option<f64> {
    (!v.is_empty()).then(|| v[((v.len() - 1) as f64 * q).round() as usize])
}

/// Figures of a series of per-step values (a counter's rates, a gauge's values).
fn over_values(mut v: Vec<f64>) -> Summary {
    v.retain(|x| x.is_finite());
    v.sort_by(f64::total_cmp);
    let n = v.len() as f64;
    Summary {
        min: v.first().copied(),
        max: v.last().copied(),
        mean: (n > 0.0).then(|| v.iter().sum::<f64>() / n),
        p50: quantile(&v, 0.5),
        p95: quantile(&v, 0.95),
        p99: quantile(&v, 0.99),
        ..Summary::default()
    }
}

/// Chart columns by name (`value`, `p50`...), one value per step.
type Columns = BTreeMap<&'static str, Vec<Option<f64>>>;

/// One KPI's summary and columns from its points at `step`.
fn kpi(kind: Kind, pts: &[(i64, Agg)], step: i64, span: f64) -> (Summary, Vec<i64>, Columns) {
    let t: Vec<i64> = pts.iter().map(|p| p.0).collect();
    let mut cols = Columns::new();
    let summary = match kind {
        Kind::Counter => {
            let rates: Vec<f64> = pts
                .iter()
                .map(|(_, a)| {
                    if let Agg::Counter(c) = a {
                        c / step as f64
                    } else {
                        f64::NAN
                    }
                })
                .collect();
            let total: f64 = pts
                .iter()
                .map(|(_, a)| if let Agg::Counter(c) = a { *c } else { 0.0 })
                .sum();
            cols.insert("value", rates.iter().copied().map(finite).collect());
            Summary {
                total: Some(total),
                rate: Some(total / span),
                ..over_values(rates)
            }
        }
        Kind::Gauge => {
            let last: Vec<f64> = pts
                .iter()
                .map(|(_, a)| {
                    if let Agg::Gauge(g) = a {
                        g.last
                    } else {
                        f64::NAN
                    }
                })
                .collect();
            cols.insert("value", last.iter().copied().map(finite).collect());
            let (mut lo, mut hi, mut sum, mut n) = (f64::INFINITY, f64::NEG_INFINITY, 0.0, 0u64);
            for (_, a) in pts {
                if let Agg::Gauge(g) = a {
                    (lo, hi, sum, n) = (lo.min(g.min), hi.max(g.max), sum + g.sum, n + g.count);
                }
            }
            Summary {
                min: finite(lo),
                max: finite(hi),
                mean: (n > 0).then(|| sum / n as f64),
                ..over_values(last)
            }
        }
        Kind::Distribution => {
            let mut all = DistBucket::default();
            for q in ["p50", "p95", "p99"] {
                cols.insert(q, Vec::with_capacity(pts.len()));
            }
            for (_, a) in pts {
                let Agg::Dist(d) = a else { continue };
                all.merge(d);
                for (q, x) in [("p50", 0.5), ("p95", 0.95), ("p99", 0.99)] {
                    cols.get_mut(q)
                        .expect("inserted")
                        .push(d.sketch.quantile(x));
                }
            }
            let n = all.count;
            Summary {
                min: (n > 0).then_some(all.min),
                max: (n > 0).then_some(all.max),
                mean: (n > 0).then(|| all.sum / n as f64),
                p50: all.sketch.quantile(0.5),
                p95: all.sketch.quantile(0.95),
                p99: all.sketch.quantile(0.99),
                total: Some(n as f64),
                rate: Some(n as f64 / span),
            }
        }
    };
    (summary, t, cols)
}

/// The report of `[from, to]` (Unix seconds) at `step` (0: chosen for about 600 points).
pub fn build(
    reader: &Reader,
    from: i64,
    to: i64,
    step: i64,
    title: &str,
) -> Result<Report, HistoryError> {
    let step = if step > 0 { step } else { step_for(from, to) };
    let series: Vec<_> = reader.select(&[]).into_iter().take(MAX_KPIS).collect();
    let (_, pts) = reader.query(&series, Step { from, to, step })?;
    let span = (to - from).max(1) as f64;
    let mut report = Report {
        title: title.to_owned(),
        from: from as f64,
        to: to as f64,
        step: step as f64,
        generated: crate::kpi::now(),
        host: std::fs::read_to_string("/proc/sys/kernel/hostname")
            .map(|h| h.trim().to_owned())
            .unwrap_or_default(),
        ..Report::default()
    };
    let mut spans: BTreeMap<(String, String), SpanRow> = BTreeMap::new();
    for (s, p) in series.iter().zip(&pts) {
        if p.is_empty() {
            continue;
        }
        let d = &s.desc;
        let (summary, t, columns) = kpi(d.kind, p, step, span);
        let label = |k: &str| {
            d.labels
                .iter()
                .find(|(n, _)| n == k)
                .map(|(_, v)| v.clone())
                .unwrap_or_default()
        };
        if let Some(role) = crate::engine::rules::span_role(&d.name) {
            let row = spans
                .entry((label("app"), label("span")))
                .or_insert_with(|| SpanRow {
                    span: label("span"),
                    app: label("app"),
                    ..SpanRow::default()
                });
            match role {
                "calls" => {
                    (row.count, row.rate) =
                        (summary.total.unwrap_or(0.0), summary.rate.unwrap_or(0.0))
                }
                "errors" => row.errors = summary.total.unwrap_or(0.0),
                _ => (row.p50, row.p95, row.p99) = (summary.p50, summary.p95, summary.p99),
            }
        }
        report.kpis.push(ReportKpi {
            id: d.id.clone(),
            name: d.name.clone(),
            title: d.name.replace('_', " "),
            labels: d.labels.iter().cloned().collect(),
            kind: d.kind.as_str(),
            unit: d.unit.clone(),
            help: d.help.clone(),
            summary,
            t,
            columns,
        });
    }
    report.spans = spans.into_values().collect();
    report.alerts = super::alerts::of_window(reader, from as f64, to as f64)?;
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_keep_charts_under_600_points() {
        assert_eq!(step_for(0, 300), 1);
        assert_eq!(step_for(0, 3600), 10);
        assert_eq!(step_for(0, 86_400), 300);
        assert_eq!(step_for(0, 7 * 86_400), 1800);
    }

    #[test]
    fn counter_and_gauge_summaries() {
        let pts: Vec<(i64, Agg)> = (0..10)
            .map(|i| (i * 10, Agg::Counter(10.0 * i as f64)))
            .collect();
        let (s, t, cols) = kpi(Kind::Counter, &pts, 10, 100.0);
        assert_eq!(s.total, Some(450.0));
        assert_eq!(s.rate, Some(4.5));
        assert_eq!((s.min, s.max), (Some(0.0), Some(9.0)));
        assert_eq!(t.len(), 10);
        assert_eq!(cols["value"][3], Some(3.0));
    }
}

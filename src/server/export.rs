//! Rendering history answers: the `/api/metrics/history` JSON (the in-memory endpoint's
//! shape, with gauge min/max/mean added) and `/api/export`'s CSV or JSON.

use super::history::{Params, MAX_POINTS, MAX_SERIES};
use crate::history::{Agg, Reader};
use crate::kpi::{Desc, Kind};
use serde::Serialize;
use std::fmt::Write;
use warp::http::StatusCode;
use warp::Reply;

/// Export formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Format {
    Csv,
    Json,
}

/// One KPI's columns.
#[derive(Serialize, Default)]
struct Columns {
    t: Vec<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    value: Option<Vec<f64>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    min: Option<Vec<f64>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    max: Option<Vec<f64>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    mean: Option<Vec<f64>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    count: Option<Vec<u64>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    p50: Option<Vec<f64>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    p95: Option<Vec<f64>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    p99: Option<Vec<f64>>,
}

/// One point, every figure (NaN where its kind has none).
struct Row {
    value: f64,
    sum: f64,
    min: f64,
    max: f64,
    mean: f64,
    count: u64,
    q: [f64; 3],
}

fn row(a: &Agg, step: i64, sum_counters: bool) -> Row {
    let nan = f64::NAN;
    let mut r = Row {
        value: nan,
        sum: nan,
        min: nan,
        max: nan,
        mean: nan,
        count: 0,
        q: [nan; 3],
    };
    match a {
        Agg::Counter(s) => {
            r.sum = *s;
            r.value = if sum_counters { *s } else { s / step as f64 };
        }
        Agg::Gauge(g) => {
            (r.value, r.min, r.max) = (g.last, g.min, g.max);
            r.mean = g.sum / g.count.max(1) as f64;
            r.count = g.count;
        }
        Agg::Dist(d) => {
            (r.sum, r.min, r.max, r.count) = (d.sum, d.min, d.max, d.count);
            r.mean = d.sum / d.count.max(1) as f64;
            for (o, q) in r.q.iter_mut().zip([0.5, 0.95, 0.99]) {
                *o = d.sketch.quantile(q).unwrap_or(nan);
            }
        }
    }
    r
}

fn columns(kind: Kind, pts: &[(i64, Agg)], p: &Params) -> Columns {
    let rows: Vec<Row> = pts
        .iter()
        .map(|(_, a)| row(a, p.step.step, p.sum))
        .collect();
    let col = |f: fn(&Row) -> f64| Some(rows.iter().map(f).collect());
    let mut c = Columns {
        t: pts.iter().map(|p| p.0).collect(),
        ..Columns::default()
    };
    match kind {
        Kind::Counter => c.value = col(|r| r.value),
        Kind::Gauge => {
            c.value = col(|r| r.value);
            c.min = col(|r| r.min);
            c.max = col(|r| r.max);
            c.mean = col(|r| r.mean);
        }
        Kind::Distribution => {
            c.count = Some(rows.iter().map(|r| r.count).collect());
            c.p50 = col(|r| r.q[0]);
            c.p95 = col(|r| r.q[1]);
            c.p99 = col(|r| r.q[2]);
            c.mean = col(|r| r.mean);
            c.min = col(|r| r.min);
            c.max = col(|r| r.max);
        }
    }
    c
}

#[derive(Serialize)]
struct SeriesOut<'a> {
    #[serde(flatten)]
    desc: &'a Desc,
    #[serde(flatten)]
    columns: Columns,
}

/// Runs a query (on a blocking thread) and renders it.
pub(crate) fn run(
    reader: &Reader,
    p: &Params,
    export: bool,
) -> Result<Box<dyn Reply>, (StatusCode, String)> {
    let series = reader.select(&p.kpi);
    if export && series.is_empty() {
        let sel = if p.kpi.is_empty() {
            "*".into()
        } else {
            p.kpi.join(", ")
        };
        return Err((
            StatusCode::NOT_FOUND,
            format!("no KPI in history matches `{sel}`"),
        ));
    }
    let steps = (p.step.to - p.step.from) / p.step.step + 1;
    if series.len() > MAX_SERIES || series.len() as i64 * steps > MAX_POINTS {
        return Err((
            StatusCode::BAD_REQUEST,
            format!(
                "{} KPIs × {steps} points asked; at most {MAX_POINTS} points and {MAX_SERIES} KPIs: select fewer KPIs or a larger `step`",
                series.len()
            ),
        ));
    }
    let (tier, mut pts) = reader
        .query(&series, p.step)
        .map_err(|e| (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
    if let Some(n) = p.last {
        for v in &mut pts {
            let cut = v.len().saturating_sub(n);
            v.drain(..cut);
        }
    }
    let tier_s = reader.shared().tiers[tier].res;
    if p.format == Format::Csv {
        return Ok(Box::new(warp::reply::with_header(
            csv(&series, &pts, p),
            "content-type",
            "text/csv; charset=utf-8",
        )));
    }
    #[derive(Serialize)]
    struct Body<'a> {
        bucket_s: i64,
        tier_s: i64,
        from: i64,
        to: i64,
        series: Vec<SeriesOut<'a>>,
    }
    let body = Body {
        bucket_s: p.step.step,
        tier_s,
        from: p.step.from,
        to: p.step.to,
        series: series
            .iter()
            .zip(&pts)
            .map(|(s, v)| SeriesOut {
                desc: &s.desc,
                columns: columns(s.desc.kind, v, p),
            })
            .collect(),
    };
    Ok(Box::new(warp::reply::json(&body)))
}

fn cell(out: &mut String, v: f64) {
    out.push(',');
    if v.is_finite() {
        let _ = write!(out, "{v}");
    }
}

fn quoted(out: &mut String, s: &str) {
    out.push(',');
    if s.contains([',', '"', '\n', '\r']) {
        out.push('"');
        out.push_str(&s.replace('"', "\"\""));
        out.push('"');
    } else {
        out.push_str(s);
    }
}

fn csv(
    series: &[std::sync::Arc<crate::history::SeriesInfo>],
    pts: &[Vec<(i64, Agg)>],
    p: &Params,
) -> String {
    let mut out = String::from("t,time,kpi,kind,value,sum,min,max,mean,count,p50,p95,p99\n");
    for (s, v) in series.iter().zip(pts) {
        for (t, a) in v {
            let r = row(a, p.step.step, p.sum);
            let _ = write!(out, "{t},{}", crate::kpi::rfc3339(*t as f64));
            quoted(&mut out, &s.desc.id);
            out.push(',');
            out.push_str(s.desc.kind.as_str());
            for x in [r.value, r.sum, r.min, r.max, r.mean] {
                cell(&mut out, x);
            }
            out.push(',');
            if s.desc.kind != Kind::Counter {
                let _ = write!(out, "{}", r.count);
            }
            for x in r.q {
                cell(&mut out, x);
            }
            out.push('\n');
        }
    }
    out
}

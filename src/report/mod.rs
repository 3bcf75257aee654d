//! Reports: one self-contained HTML file for a time window (`kpid report`, `GET /report`),
//! which opens with no network: its data is inlined as JSON, and so are the script that draws
//! it (`web/src/report.js`, bundled into `web/dist/report.js`), uPlot and the styles.
//!
//! [`Report`] is what the file shows: per KPI a summary over the window (min, mean, p50,
//! p95, p99, max, total, rate) and the chart columns at the report's step; the alerts of the
//! window; the span table. [`build`] fills one from history.

pub mod alerts;
pub mod build;

use serde::Serialize;
use std::collections::BTreeMap;

/// Everything one report shows.
#[derive(Debug, Default, Serialize)]
pub struct Report {
    /// Heading.
    pub title: String,
    /// Window start, Unix seconds.
    pub from: f64,
    /// Window end, Unix seconds.
    pub to: f64,
    /// Chart step, seconds.
    pub step: f64,
    /// When the report was made, Unix seconds.
    pub generated: f64,
    /// Host name, when known.
    pub host: String,
    /// KPIs with data in the window.
    pub kpis: Vec<ReportKpi>,
    /// Alerts that were firing at some point of the window.
    pub alerts: Vec<ReportAlert>,
    /// Spans seen in the window.
    pub spans: Vec<SpanRow>,
}

/// One KPI of a report.
#[derive(Debug, Default, Serialize)]
pub struct ReportKpi {
    /// `name{labels}`.
    pub id: String,
    /// Metric name.
    pub name: String,
    /// Title shown (the name when nothing better is known).
    pub title: String,
    /// Labels.
    pub labels: BTreeMap<String, String>,
    /// `counter`, `gauge` or `distribution`.
    pub kind: &'static str,
    /// Base unit.
    pub unit: String,
    /// Help text.
    pub help: String,
    /// Figures over the whole window.
    pub summary: Summary,
    /// Step starts, Unix seconds.
    pub t: Vec<i64>,
    /// Columns drawn (`value`, or `p50`/`p95`/`p99`), one value per step (`None`: no data).
    pub columns: BTreeMap<&'static str, Vec<Option<f64>>>,
}

/// A KPI's figures over a window.
#[derive(Debug, Default, Clone, Copy, Serialize, PartialEq)]
pub struct Summary {
    /// Smallest value (gauge) or observation (distribution); counters: smallest rate.
    pub min: Option<f64>,
    /// Mean value, observation or rate.
    pub mean: Option<f64>,
    /// Median.
    pub p50: Option<f64>,
    /// 95th percentile.
    pub p95: Option<f64>,
    /// 99th percentile.
    pub p99: Option<f64>,
    /// Largest.
    pub max: Option<f64>,
    /// Counter: increase over the window; distribution: observations.
    pub total: Option<f64>,
    /// Per second over the window (counter increase or observations).
    pub rate: Option<f64>,
}

/// An alert of the window.
#[derive(Debug, Default, Serialize)]
pub struct ReportAlert {
    /// Rule name.
    pub name: String,
    /// `warning` or `critical`.
    pub severity: String,
    /// Labels of the alert.
    pub labels: BTreeMap<String, String>,
    /// When it started firing.
    pub from: f64,
    /// When it resolved (`None`: still firing at the end of the window).
    pub to: Option<f64>,
    /// Value that fired it.
    pub value: Option<f64>,
}

/// One span name's figures over the window.
#[derive(Debug, Default, Serialize)]
pub struct SpanRow {
    /// Span name.
    pub span: String,
    /// App that sent it.
    pub app: String,
    /// Spans closed.
    pub count: f64,
    /// Per second.
    pub rate: f64,
    /// Duration quantiles, seconds.
    pub p50: Option<f64>,
    /// 95th percentile.
    pub p95: Option<f64>,
    /// 99th percentile.
    pub p99: Option<f64>,
    /// Spans that ended in error.
    pub errors: f64,
}

const UPLOT_JS: &str = include_str!("../../web/dist/uPlot.iife.min.js");
const UPLOT_CSS: &str = include_str!("../../web/dist/uPlot.min.css");
const REPORT_JS: &str = include_str!("../../web/dist/report.js");
const REPORT_CSS: &str = include_str!("../../web/dist/report.css");

/// Text safe inside a `<script>` or `<style>` element: no `</` can close it early.
fn inline(s: &str) -> String {
    s.replace("</", "<\\/")
}

/// The report as one HTML document.
pub fn html(r: &Report) -> String {
    // `<` never appears raw in the JSON, so no `</script>` or `<!--` in data can break out.
    let data = serde_json::to_string(r)
        .unwrap_or_else(|_| "{}".into())
        .replace('<', "\\u003c");
    let title = escape(&r.title);
    format!(
        r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="kpid {version}">
<title>{title}</title>
<style>{uplot_css}</style><style>{css}</style>
</head><body>
<header><h1 id="title">{title}</h1><div id="range" class="muted"></div></header>
<noscript><p>This report draws its tables and charts with JavaScript; allow scripts for this file.</p></noscript>
<h2>Summary</h2><div id="summary"></div>
<h2>Alerts</h2><div id="alerts"></div>
<div id="spans-box"><h2>Spans</h2><div id="spans"></div></div>
<h2>Charts</h2><div id="charts"></div>
<script id="kpid-report" type="application/json">{data}</script>
<script>{uplot_js}</script><script>{js}</script>
</body></html>
"#,
        version = env!("CARGO_PKG_VERSION"),
        uplot_css = inline(UPLOT_CSS),
        css = inline(REPORT_CSS),
        uplot_js = inline(UPLOT_JS),
        js = inline(REPORT_JS),
    )
}

fn escape(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            c => o.push(c),
        }
    }
    o
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_cannot_close_the_script_element() {
        let r = Report {
            title: "<b>x</b>".into(),
            kpis: vec![ReportKpi {
                id: "a{x=\"</script><script>alert(1)</script>\"}".into(),
                help: "<!-- -->".into(),
                ..Default::default()
            }],
            ..Default::default()
        };
        let h = html(&r);
        assert!(!h.contains("</script><script>alert"));
        assert!(!h.contains("<!-- -->"));
        assert!(h.contains("&lt;b&gt;x&lt;/b&gt;"));
        let start = h.find(r#"type="application/json">"#).unwrap() + 24;
        let end = start + h[start..].find("</script>").unwrap();
        let back: serde_json::Value = serde_json::from_str(&h[start..end]).unwrap();
        assert_eq!(
            back["kpis"][0]["help"], "<!-- -->",
            "the JSON still reads back"
        );
    }

    #[test]
    fn everything_is_inlined() {
        let h = html(&Report::default());
        assert!(!h.contains(" src="), "no external script");
        assert!(!h.contains("<link"), "no external style");
        assert!(h.contains("uPlot"));
    }
}

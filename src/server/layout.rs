//! Where each KPI sits on the dashboard, resolved here so that the page guesses nothing: its
//! title, its section (`group`, with the section's title and rank), its rank in the section
//! (`order`), the chart it is drawn in (`panel`, with the chart kind, stacked or not and
//! threshold lines), and its place in the header strip (`headline`).
//!
//! With `[[dashboard.panel]]`s the KPIs they select go to those panels, in the file's order.
//! The rest (all of them without a `[dashboard]`) read as a pipeline: a header strip of the
//! headline KPIs (throughput in and out, end-to-end latency, errors), then sections by what
//! each KPI measures (throughput, latency, queues, errors and drops, resources), from its
//! name, kind and unit; the machine's and the spans' KPIs in their own sections, and kpid's
//! own bookkeeping in a collapsed `kpid` section. Everything is a function of the catalogue
//! and the config, ordered by fixed ranks then by name, so cards never move when another KPI
//! appears.

use super::api::selected;
use super::dashboard::{ChartKind, DashboardConfig};
use crate::engine::rules::span_role;
use crate::kpi::{Desc, Kind};
use serde::Serialize;
use std::collections::HashMap;

/// One KPI name's place.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct Place {
    /// Title of its card and chart.
    pub title: String,
    /// Section key (`throughput`, `latency`, ..., `kpid`, or `panel:<section>`).
    pub group: String,
    /// Section title.
    pub group_title: String,
    /// Rank of the section.
    pub group_order: u32,
    /// The section starts collapsed.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub collapsed: bool,
    /// Rank in the section (ties: by title, then name).
    pub order: i64,
    /// Key of the chart it is drawn in: its own name, or `panel:<title>`.
    pub panel: String,
    /// Title of that chart.
    pub panel_title: String,
    /// How that chart draws.
    pub chart: ChartKind,
    /// Series stacked rather than overlaid.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub stacked: bool,
    /// Threshold lines of the chart.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub thresholds: Vec<f64>,
    /// Help under the chart's title.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub panel_help: Option<String>,
    /// Position in the header strip.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub headline: Option<u8>,
    /// Its column in the spans table (`calls`, `duration`, `errors`), for span KPIs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub span: Option<&'static str>,
}

/// The default sections: key, title, rank (config panels' sections rank 0, 1, ... before
/// them).
const SECTIONS: [(&str, &str, u32); 9] = [
    ("throughput", "Throughput", 100),
    ("latency", "Latency", 200),
    ("queues", "Queues", 300),
    ("errors", "Errors and drops", 400),
    ("resources", "Resources", 500),
    ("other", "Other", 600),
    ("spans", "Spans", 700),
    ("system", "The machine", 800),
    ("kpid", "kpid", 900),
];

/// Placement of every KPI name of a catalogue.
#[derive(Debug, Default)]
pub(crate) struct Layout {
    places: HashMap<String, Place>,
    headline: Vec<String>,
}

impl Layout {
    /// Lays out the KPIs `descs` (one per series; series of a name share a place).
    pub(crate) fn build<'a>(
        descs: impl Iterator<Item = &'a Desc>,
        cfg: &DashboardConfig,
    ) -> Layout {
        let mut first: HashMap<&str, &Desc> = HashMap::new();
        let mut panel_of: HashMap<&str, usize> = HashMap::new();
        for d in descs {
            first.entry(d.name.as_str()).or_insert(d);
            if !panel_of.contains_key(d.name.as_str()) {
                if let Some(i) = cfg.panels.iter().position(|p| selected(d, &p.kpis)) {
                    panel_of.insert(d.name.as_str(), i);
                }
            }
        }
        let mut names: Vec<&str> = first.keys().copied().collect();
        names.sort_unstable();
        let sections: HashMap<&str, &str> = names.iter().map(|n| (*n, section(first[n]))).collect();
        let headline = match &cfg.headline {
            Some(h) => h.clone(),
            None => default_headline(&names, &sections, &first),
        };
        let mut custom: Vec<&str> = Vec::new();
        for p in &cfg.panels {
            let s = p.section.as_deref().unwrap_or("Panels");
            if !custom.contains(&s) {
                custom.push(s);
            }
        }
        let mut places = HashMap::new();
        for n in names {
            let d = first[n];
            let title = title(d);
            let headline = headline.iter().position(|h| h == n).map(|i| i as u8);
            let place = match panel_of.get(n) {
                Some(&i) => {
                    let p = &cfg.panels[i];
                    let s = p.section.as_deref().unwrap_or("Panels");
                    let rank = custom.iter().position(|c| *c == s).unwrap_or(0) as u32;
                    Place {
                        title,
                        group: format!("panel:{s}"),
                        group_title: s.to_owned(),
                        group_order: rank,
                        collapsed: false,
                        order: i64::from(p.order.unwrap_or(i as i32)),
                        panel: format!("panel:{}", p.title),
                        panel_title: p.title.clone(),
                        chart: p.chart,
                        stacked: p.stacked,
                        thresholds: p.thresholds.clone(),
                        panel_help: p.help.clone(),
                        headline,
                        span: span_role(n),
                    }
                }
                None => {
                    let key = sections[n];
                    let (_, gt, rank) = SECTIONS
                        .iter()
                        .find(|s| s.0 == key)
                        .copied()
                        .unwrap_or(SECTIONS[5]);
                    Place {
                        title: title.clone(),
                        group: key.to_owned(),
                        group_title: gt.to_owned(),
                        group_order: rank,
                        collapsed: key == "kpid",
                        order: headline.map_or(100, i64::from),
                        panel: n.to_owned(),
                        panel_title: title,
                        chart: if no_chart(n) {
                            ChartKind::None
                        } else {
                            ChartKind::Line
                        },
                        stacked: false,
                        thresholds: Vec::new(),
                        panel_help: None,
                        headline,
                        span: span_role(n),
                    }
                }
            };
            places.insert(n.to_owned(), place);
        }
        Layout { places, headline }
    }

    /// The header strip's KPI names, in order.
    pub(crate) fn headline(&self) -> &[String] {
        &self.headline
    }

    /// The place of the KPI name `name`.
    pub(crate) fn get(&self, name: &str) -> Option<&Place> {
        self.places.get(name)
    }
}

fn words(n: &str) -> impl Iterator<Item = &str> {
    n.split('_')
}

fn has(n: &str, list: &[&str]) -> bool {
    words(n).any(|w| list.contains(&w))
}

/// kpid's own bookkeeping: what it read and what it left out.
fn is_kpid(n: &str) -> bool {
    n.starts_with("kpid_")
        || matches!(
            n,
            "log_lines_total"
                | "auto_fields_left_out_total"
                | "log_format_switches_total"
                | "events_total"
        )
}

/// The section a KPI measures.
fn section(d: &Desc) -> &'static str {
    let n = d.name.as_str();
    let unit = d.unit.as_str();
    if n.starts_with("host_") || n.starts_with("process_") || n.starts_with("pipeline_") {
        "system"
    } else if n.starts_with("span_") {
        "spans"
    } else if is_kpid(n) {
        "kpid"
    } else if has(
        n,
        &[
            "drop",
            "drops",
            "dropped",
            "error",
            "errors",
            "err",
            "fail",
            "failed",
            "failures",
            "lost",
            "discarded",
            "rejected",
            "timeouts",
        ],
    ) {
        "errors"
    } else if has(
        n,
        &[
            "queue", "queued", "backlog", "pending", "lag", "inflight", "depth",
        ],
    ) {
        "queues"
    } else if matches!(unit, "s" | "ms" | "us" | "ns") || has(n, &["latency", "duration"]) {
        "latency"
    } else if has(
        n,
        &[
            "gpu", "cpu", "mem", "memory", "temp", "celsius", "util", "disk", "power", "fan",
            "watts",
        ],
    ) {
        "resources"
    } else if d.kind == Kind::Counter || unit.ends_with("/s") || has(n, &["throughput", "rate"]) {
        "throughput"
    } else {
        "other"
    }
}

/// The machine's KPIs a line over time says nothing about: sizes, limits, per-pid series.
fn no_chart(n: &str) -> bool {
    n.starts_with("process_")
        || n.starts_with("host_cgroup_")
        || n.starts_with("host_swap_")
        || matches!(n, "host_cpu_cores" | "host_load5" | "host_load15")
        || (n.starts_with("host_")
            && n.ends_with("_total_bytes")
            && !n.contains("_read_")
            && !n.contains("_written_")
            && !n.contains("_network_"))
        || (n.starts_with("host_pressure_") && n.ends_with("_full_ratio"))
}

/// The header strip: throughput in, throughput out, end-to-end latency, errors.
fn default_headline(
    names: &[&str],
    sections: &HashMap<&str, &str>,
    first: &HashMap<&str, &Desc>,
) -> Vec<String> {
    let pick = |sec: &str, pref: &[&str], dist: bool, taken: &[String]| -> Option<String> {
        let cands: Vec<&str> = names
            .iter()
            .copied()
            .filter(|n| sections[n] == sec && !taken.iter().any(|t| t == n))
            .filter(|n| !dist || first[n].kind == Kind::Distribution)
            .collect();
        cands
            .iter()
            .find(|n| has(n, pref))
            .or(cands.first())
            .map(|n| (*n).to_owned())
    };
    let mut out = Vec::new();
    // Errors as a rate: a counter of them before a gauge (a ratio's series do not add up).
    let counters: Vec<&str> = names
        .iter()
        .copied()
        .filter(|n| sections[n] == "errors" && first[n].kind == Kind::Counter)
        .collect();
    for (sec, pref, dist) in [
        (
            "throughput",
            &["in", "input", "received", "ingested", "requests"][..],
            false,
        ),
        (
            "throughput",
            &["out", "output", "sent", "processed", "emitted", "frames"][..],
            false,
        ),
        ("latency", &["e2e", "end"][..], true),
        (
            "errors",
            &["error", "errors", "failed", "failures"][..],
            false,
        ),
    ] {
        let counter = (sec == "errors")
            .then(|| counters.iter().find(|n| has(n, pref)).or(counters.first()))
            .flatten()
            .map(|n| (*n).to_owned());
        if let Some(n) = counter.or_else(|| pick(sec, pref, dist, &out)) {
            out.push(n);
        }
    }
    out
}

/// A title from the help text's first clause, or else from the name without its unit.
fn title(d: &Desc) -> String {
    let help = d.help.trim();
    let generated =
        help.is_empty() || help.starts_with("field `") || help.starts_with("from event fields");
    if !generated {
        // Without its parenthesis; whole when short ("runnable tasks, 1 min average"), else
        // its first clause.
        let t = help[..help.find('(').unwrap_or(help.len())].trim();
        let t = if t.len() <= 40 {
            t
        } else {
            t[..t.find([',', ';', ':']).unwrap_or(t.len())].trim()
        };
        if !t.is_empty() && t.len() <= 48 {
            return capitalize(t);
        }
    }
    let mut n = d.name.as_str();
    for suffix in [
        "_total",
        "_per_second",
        "_seconds",
        "_bytes",
        "_percent",
        "_ratio",
        "_celsius",
    ] {
        n = n.strip_suffix(suffix).unwrap_or(n);
    }
    let words: Vec<String> = n
        .split('_')
        .map(|w| match w {
            "gpu" | "cpu" | "io" | "e2e" | "rt" | "api" | "http" | "ws" => w.to_uppercase(),
            _ => w.to_owned(),
        })
        .collect();
    capitalize(&words.join(" "))
}

fn capitalize(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map(|f| f.to_uppercase().chain(c).collect())
        .unwrap_or_default()
}

#[cfg(test)]
#[path = "layout_tests.rs"]
mod tests;

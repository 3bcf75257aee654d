//! `/api/flow`: the pipeline's stages as a flow (docs/api.md), from the span KPIs of the
//! published snapshot: each span name is a stage with its rate, latency percentiles and error
//! ratio, and `span_children_total{app,parent,span}` says which stages run inside which, in
//! the order they were first seen (the order of sequential stages).

use super::AppState;
use crate::engine::rules::{SPAN_DURATION, SPAN_ERRORS, SPAN_TOTAL};
use crate::kpi::{KpiView, Snapshot};
use serde::Serialize;
use std::collections::BTreeMap;
use std::sync::Arc;
use warp::{Filter, Reply};

/// Error ratio past which a stage is shown as failing, and as degraded.
const BAD_RATIO: f64 = 0.05;
const WARN_RATIO: f64 = 0.01;

/// One stage: a span name of one app.
#[derive(Debug, Default, Serialize)]
pub(crate) struct Stage<'a> {
    app: &'a str,
    span: &'a str,
    /// Spans closed per second (last 10 s).
    rate: f64,
    /// Spans closed since start.
    total: f64,
    p50: Option<f64>,
    p95: Option<f64>,
    p99: Option<f64>,
    /// Spans closed in error per second.
    errors_per_s: f64,
    /// Errors over spans, last 10 s (`None` while idle).
    error_ratio: Option<f64>,
    /// `ok`, `warn` (error ratio past 1 %), `bad` (past 5 %) or `idle` (nothing for 10 s).
    health: &'static str,
}

/// Spans of `span` closed inside `parent`.
#[derive(Debug, Serialize)]
pub(crate) struct Edge<'a> {
    app: &'a str,
    parent: &'a str,
    span: &'a str,
    rate: f64,
}

/// The whole flow.
#[derive(Debug, Serialize)]
pub(crate) struct Flow<'a> {
    stages: Vec<Stage<'a>>,
    edges: Vec<Edge<'a>>,
}

fn label<'a>(k: &'a KpiView, name: &str) -> &'a str {
    k.desc
        .labels
        .iter()
        .find(|(n, _)| n == name)
        .map_or("", |(_, v)| v.as_str())
}

type Stages<'a> = BTreeMap<(&'a str, &'a str), Stage<'a>>;

/// The stage of `(app, span)`, created (and its first-seen order kept) when new.
fn entry<'s, 'a>(
    stages: &'s mut Stages<'a>,
    order: &mut Vec<(&'a str, &'a str)>,
    app: &'a str,
    span: &'a str,
) -> &'s mut Stage<'a> {
    stages.entry((app, span)).or_insert_with(|| {
        order.push((app, span));
        Stage {
            app,
            span,
            ..Stage::default()
        }
    })
}

/// The flow of the spans in `snap`.
pub(crate) fn flow(snap: &Snapshot) -> Flow<'_> {
    let mut stages: Stages<'_> = BTreeMap::new();
    let mut order: Vec<(&str, &str)> = Vec::new();
    let mut edges = Vec::new();
    for k in &snap.kpis {
        let (app, span) = (label(k, "app"), label(k, "span"));
        let l = &k.latest;
        match k.desc.name.as_str() {
            SPAN_TOTAL => {
                let s = entry(&mut stages, &mut order, app, span);
                s.rate = l.rate.unwrap_or(0.0);
                s.total = l.total.unwrap_or(0.0);
            }
            SPAN_DURATION => {
                let s = entry(&mut stages, &mut order, app, span);
                (s.p50, s.p95, s.p99) = (l.p50, l.p95, l.p99);
            }
            SPAN_ERRORS => {
                entry(&mut stages, &mut order, app, span).errors_per_s = l.rate.unwrap_or(0.0);
            }
            "span_children_total" => edges.push(Edge {
                app,
                parent: label(k, "parent"),
                span,
                rate: l.rate.unwrap_or(0.0),
            }),
            _ => {}
        }
    }
    let stages = order
        .into_iter()
        .filter_map(|key| stages.remove(&key))
        .map(|mut s| {
            s.error_ratio = (s.rate > 0.0).then(|| (s.errors_per_s / s.rate).min(1.0));
            s.health = match s.error_ratio {
                None => "idle",
                Some(r) if r > BAD_RATIO => "bad",
                Some(r) if r > WARN_RATIO => "warn",
                Some(_) => "ok",
            };
            s
        })
        .collect();
    Flow { stages, edges }
}

pub(super) fn route(state: Arc<AppState>) -> warp::filters::BoxedFilter<(Box<dyn Reply>,)> {
    warp::path!("api" / "flow")
        .and(warp::get())
        .map(move || {
            let snap = state.snapshot();
            Box::new(warp::reply::json(&flow(&snap))) as Box<dyn Reply>
        })
        .boxed()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kpi::{Kind, Limits, Obs, Publisher, SeriesSpec, Store};

    fn add(s: &mut Store, name: &str, labels: &[(&str, &str)], kind: Kind, obs: Obs, t: f64) {
        let spec = SeriesSpec {
            name,
            labels,
            kind,
            unit: "",
            help: "",
            buckets: None,
        };
        let r = s.resolve(&spec).unwrap();
        s.apply(r, obs, t);
    }

    #[test]
    fn stages_keep_first_seen_order_and_are_coloured_by_error_ratio() {
        let mut s = Store::new(Limits::default());
        let now = 1000.0;
        for i in 0..100 {
            let t = now - 5.0 + i as f64 * 0.05;
            for span in ["decode", "infer", "frame"] {
                let l = [("app", "cam"), ("span", span)];
                add(&mut s, "span_total", &l, Kind::Counter, Obs::Add(1.0), t);
                add(
                    &mut s,
                    "span_duration_seconds",
                    &l,
                    Kind::Distribution,
                    Obs::Observe(0.01),
                    t,
                );
                if span != "frame" {
                    let e = [("app", "cam"), ("parent", "frame"), ("span", span)];
                    add(
                        &mut s,
                        "span_children_total",
                        &e,
                        Kind::Counter,
                        Obs::Add(1.0),
                        t,
                    );
                }
            }
            if i % 10 == 0 {
                let l = [("app", "cam"), ("span", "infer")];
                add(
                    &mut s,
                    "span_errors_total",
                    &l,
                    Kind::Counter,
                    Obs::Add(1.0),
                    t,
                );
            }
        }
        let snap = Publisher::default().publish(&mut s, now, true);
        let f = flow(&snap);
        let names: Vec<_> = f.stages.iter().map(|s| s.span).collect();
        assert_eq!(names, ["decode", "infer", "frame"]);
        let infer = &f.stages[1];
        assert!((infer.error_ratio.unwrap() - 0.1).abs() < 0.02, "{infer:?}");
        assert_eq!(infer.health, "bad");
        assert_eq!(f.stages[0].health, "ok");
        assert!((infer.p95.unwrap() - 0.01).abs() < 0.001);
        let edges: Vec<_> = f.edges.iter().map(|e| (e.parent, e.span)).collect();
        assert_eq!(edges, [("frame", "decode"), ("frame", "infer")]);
    }
}

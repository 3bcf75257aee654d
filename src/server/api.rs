//! `/api/kpis`, `/api/metrics/latest`, `/api/metrics/history`, `/api/health`: read from the
//! latest snapshot the engine published.

use super::layout::{Layout, Place};
use super::{health_json, AppState};
use crate::kpi::view::{self, Latest};
use crate::kpi::{Desc, KpiView, Snapshot};
use serde::Serialize;
use serde_json::json;
use std::sync::Arc;
use warp::http::StatusCode;
use warp::{Filter, Reply};

/// Default number of history points.
pub const DEFAULT_LAST: usize = 300;

/// A catalogue entry with its latest view.
#[derive(Serialize)]
pub(crate) struct Entry<'a> {
    #[serde(flatten)]
    pub desc: &'a Desc,
    #[serde(flatten)]
    pub latest: &'a Latest,
    /// Where the dashboard shows it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub layout: Option<&'a Place>,
}

pub(crate) fn entry<'a>(k: &'a KpiView, layout: &'a Layout) -> Entry<'a> {
    Entry {
        desc: &k.desc,
        latest: &k.latest,
        layout: layout.get(&k.desc.name),
    }
}

/// Which series a `kpi` selector picks: an id, a name, or a name prefix ending in `*`.
pub(crate) fn selected(desc: &Desc, sel: &[String]) -> bool {
    sel.is_empty()
        || sel.iter().any(|k| {
            k == "*"
                || *k == desc.id
                || *k == desc.name
                || k.strip_suffix('*')
                    .is_some_and(|p| desc.name.starts_with(p))
        })
}

#[derive(Serialize)]
pub(crate) struct HistorySeries<'a> {
    #[serde(flatten)]
    pub desc: &'a Desc,
    #[serde(flatten)]
    pub columns: view::Columns,
}

/// What `/api/metrics/history` (and the WebSocket snapshot) asks for.
#[derive(Debug, Clone)]
pub(crate) struct HistoryQuery {
    /// Selectors (empty: every KPI).
    pub kpi: Vec<String>,
    /// First bucket start, Unix seconds.
    pub from: i64,
    /// Last bucket start, Unix seconds.
    pub to: i64,
    /// Most points per KPI (the newest).
    pub last: usize,
}

impl Default for HistoryQuery {
    fn default() -> Self {
        HistoryQuery {
            kpi: Vec::new(),
            from: i64::MIN,
            to: i64::MAX,
            last: DEFAULT_LAST,
        }
    }
}

impl HistoryQuery {
    /// Reads the query string's pairs; errors name the parameter and its value.
    pub(crate) fn parse(q: Vec<(String, String)>) -> Result<Self, String> {
        let mut h = HistoryQuery::default();
        for (k, v) in q {
            let num = |v: &str| {
                v.parse::<f64>()
                    .ok()
                    .filter(|x| x.is_finite())
                    .ok_or_else(|| format!("invalid `{k}`: `{v}` is not a number"))
            };
            match k.as_str() {
                "kpi" => h.kpi.push(v),
                "from" => h.from = num(&v)?.floor() as i64,
                "to" => h.to = num(&v)?.ceil() as i64,
                "last" => {
                    h.last = v
                        .parse()
                        .map_err(|_| format!("invalid `last`: `{v}` is not a count"))?
                }
                _ => return Err(format!("unknown parameter `{k}` (use kpi, last, from, to)")),
            }
        }
        Ok(h)
    }
}

pub(crate) fn history<'a>(snap: &'a Snapshot, q: &HistoryQuery) -> Vec<HistorySeries<'a>> {
    snap.kpis
        .iter()
        .filter(|k| selected(&k.desc, &q.kpi))
        .map(|k| HistorySeries {
            desc: &k.desc,
            columns: view::columns(k.desc.kind, &k.points.range(q.from, q.to, q.last)),
        })
        .collect()
}

/// The one error reply of the API: `{"error": "..."}` with its status.
pub(crate) fn error_reply(status: StatusCode, msg: String) -> Box<dyn Reply> {
    Box::new(warp::reply::with_status(
        warp::reply::json(&json!({ "error": msg })),
        status,
    ))
}

fn history_reply(state: &AppState, q: Vec<(String, String)>) -> Box<dyn Reply> {
    let q = match HistoryQuery::parse(q) {
        Ok(q) => q,
        Err(e) => return error_reply(StatusCode::BAD_REQUEST, e),
    };
    #[derive(Serialize)]
    struct Body<'a> {
        bucket_s: i64,
        series: Vec<HistorySeries<'a>>,
    }
    let snap = state.snapshot();
    let body = Body {
        bucket_s: snap.bucket_s,
        series: history(&snap, &q),
    };
    Box::new(warp::reply::json(&body))
}

pub(super) fn routes(state: Arc<AppState>) -> warp::filters::BoxedFilter<(Box<dyn Reply>,)> {
    let with = move || {
        let s = state.clone();
        warp::any().map(move || s.clone())
    };
    let kpis = warp::path!("api" / "kpis")
        .and(warp::get())
        .and(with())
        .map(|s: Arc<AppState>| {
            #[derive(Serialize)]
            struct Body<'a> {
                kpis: Vec<&'a Desc>,
                overflow: std::collections::BTreeMap<&'a str, u64>,
            }
            let snap = s.snapshot();
            let body = Body {
                kpis: snap.kpis.iter().map(|k| &*k.desc).collect(),
                overflow: snap.folded.iter().map(|(n, c)| (n.as_str(), *c)).collect(),
            };
            Box::new(warp::reply::json(&body)) as Box<dyn Reply>
        });
    let latest = warp::path!("api" / "metrics" / "latest")
        .and(warp::get())
        .and(with())
        .map(|s: Arc<AppState>| {
            #[derive(Serialize)]
            struct Body<'a> {
                ts: f64,
                status: serde_json::Value,
                kpis: Vec<Entry<'a>>,
            }
            let status = health_json(&s)["status"].clone();
            let snap = s.snapshot();
            let layout = s.layout(&snap);
            // Serialized straight to bytes: no JSON value tree the size of the catalogue.
            let body = Body {
                ts: snap.ts,
                status,
                kpis: snap.kpis.iter().map(|k| entry(k, &layout)).collect(),
            };
            Box::new(warp::reply::json(&body)) as Box<dyn Reply>
        });
    let hist = warp::path!("api" / "metrics" / "history")
        .and(warp::get())
        .and(with())
        .and(warp::query::<Vec<(String, String)>>())
        .map(|s: Arc<AppState>, q| history_reply(&s, q));
    let health = warp::path!("api" / "health")
        .and(warp::get())
        .and(with())
        .map(|s: Arc<AppState>| Box::new(warp::reply::json(&health_json(&s))) as Box<dyn Reply>);
    kpis.or(latest)
        .unify()
        .or(hist)
        .unify()
        .or(health)
        .unify()
        .boxed()
}

//! `/api/kpis`, `/api/metrics/latest`, `/api/metrics/history`, `/api/health`.

use super::{health_json, AppState};
use crate::kpi::view::{self, Latest};
use crate::kpi::{now, Desc, Series, Store};
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
    pub latest: Latest,
}

pub(crate) fn entry<'a>(desc: &'a Desc, s: &Series, now: f64, res: i64) -> Entry<'a> {
    Entry {
        desc,
        latest: view::latest(desc, s, now, res),
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

pub(crate) fn history<'a>(
    st: &'a Store,
    sel: &[String],
    from: i64,
    to: i64,
    last: usize,
    now: f64,
) -> Vec<HistorySeries<'a>> {
    let res = st.limits().bucket_secs;
    st.iter()
        .filter(|(d, _)| selected(d, sel))
        .map(|(d, s)| HistorySeries {
            desc: d,
            columns: view::columns(d.kind, &view::points(s, now, res, from, to, last)),
        })
        .collect()
}

fn bad_request(msg: String) -> Box<dyn Reply> {
    Box::new(warp::reply::with_status(
        warp::reply::json(&json!({ "error": msg })),
        StatusCode::BAD_REQUEST,
    ))
}

fn history_reply(state: &AppState, q: Vec<(String, String)>) -> Box<dyn Reply> {
    let mut sel = Vec::new();
    let (mut from, mut to, mut last) = (i64::MIN, i64::MAX, DEFAULT_LAST);
    for (k, v) in q {
        let num = |v: &str| {
            v.parse::<f64>()
                .map_err(|_| format!("invalid `{k}`: `{v}` is not a number"))
        };
        match k.as_str() {
            "kpi" => sel.push(v),
            "from" => match num(&v) {
                Ok(x) => from = x.floor() as i64,
                Err(e) => return bad_request(e),
            },
            "to" => match num(&v) {
                Ok(x) => to = x.ceil() as i64,
                Err(e) => return bad_request(e),
            },
            "last" => match v.parse::<usize>() {
                Ok(n) => last = n,
                Err(_) => return bad_request(format!("invalid `last`: `{v}` is not a count")),
            },
            _ => return bad_request(format!("unknown parameter `{k}` (use kpi, last, from, to)")),
        }
    }
    let st = state.store.lock();
    let series = history(&st, &sel, from, to, last, now());
    Box::new(warp::reply::json(
        &json!({ "bucket_s": st.limits().bucket_secs, "series": series }),
    ))
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
            let st = s.store.lock();
            let list: Vec<&Desc> = st.iter().map(|(d, _)| &**d).collect();
            let overflow: serde_json::Map<String, serde_json::Value> = st
                .folded_by_name()
                .map(|(n, c)| (n.to_owned(), json!(c)))
                .collect();
            Box::new(warp::reply::json(
                &json!({ "kpis": list, "overflow": overflow }),
            )) as Box<dyn Reply>
        });
    let latest = warp::path!("api" / "metrics" / "latest")
        .and(warp::get())
        .and(with())
        .map(|s: Arc<AppState>| {
            let status = health_json(&s)["status"].clone();
            let st = s.store.lock();
            let (t, res) = (now(), st.limits().bucket_secs);
            let list: Vec<Entry> = st.iter().map(|(d, se)| entry(d, se, t, res)).collect();
            Box::new(warp::reply::json(
                &json!({ "ts": t, "status": status, "kpis": list }),
            )) as Box<dyn Reply>
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

//! `/api/alerts/*`: active alerts, their history, rules, acknowledgements and silences (the
//! guard asks for the API token on every call that is not a GET).

use super::api::error_reply;
use super::AppState;
use crate::alerts::{Alerts, SilenceRequest};
use serde_json::json;
use std::sync::Arc;
use warp::http::StatusCode;
use warp::{Filter, Reply};

fn with_alerts(state: Arc<AppState>, f: impl FnOnce(&Alerts) -> Box<dyn Reply>) -> Box<dyn Reply> {
    match state.alerts.get() {
        Some(a) => f(a),
        None => no_alerts(),
    }
}

fn no_alerts() -> Box<dyn Reply> {
    error_reply(
        StatusCode::NOT_FOUND,
        "no alert rules: add [[alert]] tables to the config".into(),
    )
}

fn ok(v: serde_json::Value) -> Box<dyn Reply> {
    Box::new(warp::reply::json(&v))
}

/// Default and largest number of state changes one `/api/alerts/history` answer holds.
const HISTORY_LIMIT: (usize, usize) = (1000, crate::history::events::MAX_ANSWER);

/// `/api/alerts/history?from=&to=&limit=&rule=&kpi=`: state changes over a range, oldest
/// first; from history when it is kept, else from the recent ones in memory.
async fn history(state: Arc<AppState>, q: Vec<(String, String)>) -> Box<dyn Reply> {
    let Some(alerts) = state.alerts.get().cloned() else {
        return no_alerts();
    };
    let now = crate::kpi::now();
    let (mut from, mut to, mut limit) = (now - 86_400.0, now, HISTORY_LIMIT.0);
    let (mut rule, mut kpi) = (None, None);
    for (k, v) in &q {
        let time = || super::history::parse_time(v);
        match k.as_str() {
            "from" => match time() {
                Ok(t) => from = t,
                Err(e) => return error_reply(StatusCode::BAD_REQUEST, e),
            },
            "to" => match time() {
                Ok(t) => to = t,
                Err(e) => return error_reply(StatusCode::BAD_REQUEST, e),
            },
            "limit" => match v.parse::<usize>() {
                Ok(n) if n > 0 => limit = n.min(HISTORY_LIMIT.1),
                _ => {
                    return error_reply(
                        StatusCode::BAD_REQUEST,
                        format!("limit `{v}` is not a positive integer"),
                    )
                }
            },
            "rule" => rule = Some(v.clone()),
            "kpi" => kpi = Some(v.clone()),
            _ => {
                return error_reply(
                    StatusCode::BAD_REQUEST,
                    format!("unknown parameter `{k}` (from, to, limit, rule, kpi)"),
                )
            }
        }
    }
    if from > to {
        return error_reply(StatusCode::BAD_REQUEST, "from is after to".into());
    }
    let keep = move |t: &serde_json::Value| {
        rule.as_ref().is_none_or(|r| t["rule"] == **r)
            && kpi.as_ref().is_none_or(|k| {
                let id = t["kpi"].as_str().unwrap_or("");
                id == k || id.split('{').next() == Some(k.as_str())
            })
    };
    let (events, truncated, stored) = match state.history.get().cloned() {
        Some(reader) => {
            let got = tokio::task::spawn_blocking(move || {
                reader.events(crate::alerts::recent::EVENT_KIND, from, to, HISTORY_LIMIT.1)
            })
            .await;
            match got {
                Ok(Ok((rows, more))) => {
                    let v: Vec<serde_json::Value> = rows
                        .iter()
                        .filter_map(|(_, body)| serde_json::from_str(body).ok())
                        .collect();
                    (v, more, true)
                }
                Ok(Err(e)) => return error_reply(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
                Err(e) => {
                    return error_reply(
                        StatusCode::INTERNAL_SERVER_ERROR,
                        format!("alert history query: {e}"),
                    )
                }
            }
        }
        None => {
            let v = alerts
                .recent_between(from, to)
                .iter()
                .filter_map(|t| serde_json::to_value(t).ok())
                .collect();
            (v, false, false)
        }
    };
    let mut events: Vec<serde_json::Value> = events.into_iter().filter(keep).collect();
    let truncated = truncated || events.len() > limit;
    events.drain(..events.len().saturating_sub(limit));
    ok(json!({
        "from": from, "to": to, "stored": stored, "truncated": truncated, "events": events,
    }))
}

pub(super) fn routes(state: Arc<AppState>) -> warp::filters::BoxedFilter<(Box<dyn Reply>,)> {
    let with = move || {
        let s = state.clone();
        warp::any().map(move || s.clone())
    };
    let active = warp::path!("api" / "alerts" / "active")
        .and(warp::get())
        .and(with())
        .map(|s: Arc<AppState>| with_alerts(s, |a| ok(a.active())));
    let rules = warp::path!("api" / "alerts" / "rules")
        .and(warp::get())
        .and(with())
        .map(|s: Arc<AppState>| with_alerts(s, |a| ok(a.rules())));
    let ack = warp::path!("api" / "alerts" / String / "ack")
        .and(warp::post())
        .and(with())
        .map(|id: String, s: Arc<AppState>| {
            with_alerts(s, |a| {
                if a.ack(&id) {
                    ok(json!({ "id": id, "acked": true }))
                } else {
                    error_reply(StatusCode::NOT_FOUND, format!("no alert `{id}`"))
                }
            })
        });
    let list = warp::path!("api" / "alerts" / "silences")
        .and(warp::get())
        .and(with())
        .map(|s: Arc<AppState>| with_alerts(s, |a| ok(json!({ "silences": a.silences() }))));
    let add = warp::path!("api" / "alerts" / "silences")
        .and(warp::post())
        .and(with())
        .and(warp::body::bytes())
        .map(|s: Arc<AppState>, body: bytes::Bytes| {
            with_alerts(s, |a| {
                let r: SilenceRequest = match serde_json::from_slice(&body) {
                    Ok(r) => r,
                    Err(e) => {
                        return error_reply(
                            StatusCode::BAD_REQUEST,
                            format!("invalid silence: {e}"),
                        )
                    }
                };
                match a.silence(r) {
                    Ok(s) => ok(json!(s)),
                    Err(e) => error_reply(StatusCode::BAD_REQUEST, e),
                }
            })
        });
    let del = warp::path!("api" / "alerts" / "silences" / u64)
        .and(warp::delete())
        .and(with())
        .map(|id: u64, s: Arc<AppState>| {
            with_alerts(s, |a| {
                if a.unsilence(id) {
                    ok(json!({ "id": id, "expired": true }))
                } else {
                    error_reply(StatusCode::NOT_FOUND, format!("no silence {id}"))
                }
            })
        });
    let hist = warp::path!("api" / "alerts" / "history")
        .and(warp::get())
        .and(with())
        .and(warp::query::<Vec<(String, String)>>())
        .then(history);
    active
        .or(hist)
        .unify()
        .or(rules)
        .unify()
        .or(ack)
        .unify()
        .or(list)
        .unify()
        .or(add)
        .unify()
        .or(del)
        .unify()
        .boxed()
}

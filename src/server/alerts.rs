//! `/api/alerts/*`: active alerts, rules, acknowledgements and silences (the guard asks for
//! the API token on every call that is not a GET).

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
        None => error_reply(
            StatusCode::NOT_FOUND,
            "no alert rules: add [[alert]] tables to the config".into(),
        ),
    }
}

fn ok(v: serde_json::Value) -> Box<dyn Reply> {
    Box::new(warp::reply::json(&v))
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
    active
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

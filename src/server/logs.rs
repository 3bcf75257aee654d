//! `/api/logs`: the recent lines of every source (docs/api.md), filtered and paged from what
//! the engine last published; never the engine's own ring.

use super::api::error_reply;
use super::AppState;
use crate::logs::{LogQuery, LogsSnapshot};
use std::sync::Arc;
use warp::http::StatusCode;
use warp::{Filter, Reply};

pub(super) fn routes(state: Arc<AppState>) -> warp::filters::BoxedFilter<(Box<dyn Reply>,)> {
    warp::path!("api" / "logs")
        .and(warp::get())
        .and(warp::query::<Vec<(String, String)>>())
        .map(move |q: Vec<(String, String)>| reply(&state, &q))
        .boxed()
}

fn reply(state: &AppState, q: &[(String, String)]) -> Box<dyn Reply> {
    let query = match LogQuery::parse(q) {
        Ok(x) => x,
        Err(e) => return error_reply(StatusCode::BAD_REQUEST, e.to_string()),
    };
    let snap: Arc<LogsSnapshot> = match state.logs.get() {
        Some(rx) => rx.borrow().clone(),
        None => Arc::default(),
    };
    Box::new(warp::reply::json(&query.run(&snap)))
}

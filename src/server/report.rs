//! `GET /report?from=T&to=T&step=S&title=..`: the self-contained HTML report of a window,
//! built from history on a blocking task (`crate::report`). 404 when history is off.

use super::api::error_reply;
use super::history::parse_time;
use super::AppState;
use std::sync::Arc;
use warp::http::StatusCode;
use warp::{Filter, Reply};

/// Longest window one report covers (a year: the coarsest tier's default retention).
const MAX_SPAN: i64 = 366 * 86_400;

pub(super) fn route(state: Arc<AppState>) -> warp::filters::BoxedFilter<(Box<dyn Reply>,)> {
    warp::path!("report")
        .and(warp::get())
        .and(warp::query::<Vec<(String, String)>>())
        .then(move |q: Vec<(String, String)>| {
            let state = state.clone();
            async move { reply(&state, q).await }
        })
        .boxed()
}

struct Params {
    from: i64,
    to: i64,
    step: i64,
    title: String,
}

fn params(q: Vec<(String, String)>, now: f64) -> Result<Params, String> {
    let (mut from, mut to, mut step, mut title) = (None, None, 0i64, "kpid report".to_owned());
    for (k, v) in q {
        let time = |v: &str| parse_time(v).map_err(|e| format!("invalid `{k}`: {e}"));
        match k.as_str() {
            "from" => from = Some(time(&v)?.floor() as i64),
            "to" => to = Some(time(&v)?.ceil() as i64),
            "step" => {
                step = v
                    .parse::<i64>()
                    .ok()
                    .filter(|s| (1..=86_400).contains(s))
                    .ok_or_else(|| format!("invalid `step`: `{v}` is not 1 to 86400 seconds"))?
            }
            "title" => title = v.chars().take(200).collect(),
            "token" => {}
            other => {
                return Err(format!(
                    "unknown parameter `{other}` (known: from, to, step, title)"
                ))
            }
        }
    }
    let to = to.unwrap_or(now.ceil() as i64);
    let from = from.unwrap_or(to - 3600);
    if from >= to {
        return Err("`from` must be before `to`".into());
    }
    if to - from > MAX_SPAN {
        return Err("the window is longer than a year".into());
    }
    Ok(Params {
        from,
        to,
        step,
        title,
    })
}

async fn reply(state: &AppState, q: Vec<(String, String)>) -> Box<dyn Reply> {
    let Some(reader) = state.history.get().cloned() else {
        return error_reply(
            StatusCode::NOT_FOUND,
            "history is off: no report to make".into(),
        );
    };
    let p = match params(q, crate::kpi::now()) {
        Ok(p) => p,
        Err(e) => return error_reply(StatusCode::BAD_REQUEST, e),
    };
    let built = tokio::task::spawn_blocking(move || {
        crate::report::build::build(&reader, p.from, p.to, p.step, &p.title)
            .map(|r| crate::report::html(&r))
    })
    .await;
    match built {
        Ok(Ok(html)) => Box::new(warp::reply::with_header(
            html,
            "content-type",
            "text/html; charset=utf-8",
        )),
        Ok(Err(e)) => error_reply(StatusCode::INTERNAL_SERVER_ERROR, format!("report: {e}")),
        Err(e) => error_reply(StatusCode::INTERNAL_SERVER_ERROR, format!("report: {e}")),
    }
}

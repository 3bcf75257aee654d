//! `/api/metrics/history` and `/api/export` served from history (SQLite), when it is kept.
//! Without history, `/api/metrics/history` falls through to the in-memory window
//! (`api.rs`) and `/api/export` answers 404. Queries run on a blocking task with the history
//! reader's own connection: never on the engine, never blocking the runtime.

use super::api::error_reply;
use super::export::{self, Format};
use super::AppState;
use crate::history::{Reader, Step};
use std::sync::Arc;
use warp::http::StatusCode;
use warp::{Filter, Reply};

/// Most points one KPI may get in one answer.
pub const MAX_STEPS: i64 = 100_000;
/// Most points one answer may hold, all KPIs together.
pub const MAX_POINTS: i64 = 2_000_000;
/// Most KPIs one answer may hold.
pub const MAX_SERIES: usize = 10_000;

/// A parsed request.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Params {
    pub kpi: Vec<String>,
    pub step: Step,
    pub last: Option<usize>,
    pub sum: bool,
    pub format: Format,
}

/// Splits `a,b{x="1",y="2"}` on the commas outside braces and quotes.
pub(crate) fn split_kpis(v: &str, out: &mut Vec<String>) {
    let (mut depth, mut quoted, mut start) = (0i32, false, 0);
    let mut prev = ' ';
    for (i, c) in v.char_indices() {
        match c {
            '"' if prev != '\\' && depth > 0 => quoted = !quoted,
            '{' if !quoted => depth += 1,
            '}' if !quoted => depth -= 1,
            ',' if !quoted && depth <= 0 => {
                out.push(v[start..i].to_owned());
                start = i + 1;
            }
            _ => {}
        }
        prev = c;
    }
    out.push(v[start..].to_owned());
    out.retain(|s| !s.is_empty());
}

/// Unix seconds (`1732400000`, `1732400000.5`) or RFC 3339 (`2026-11-30T09:00:00Z`,
/// `2026-11-30T10:00:00.250+01:00`).
pub(crate) fn parse_time(v: &str) -> Result<f64, String> {
    crate::kpi::time_param(v)
        .ok_or_else(|| format!("`{v}` is not a time (Unix seconds or RFC 3339)"))
}

fn parse_step(v: &str) -> Result<i64, String> {
    let secs = match v.parse::<f64>() {
        Ok(x) => x,
        Err(_) => crate::config::parse_duration(v)
            .map_err(|_| format!("invalid `step`: `{v}` (seconds, or 10s, 1m, 1h)"))?
            .as_secs_f64(),
    };
    if !(1.0..=1e9).contains(&secs) {
        return Err(format!("invalid `step`: `{v}` (at least 1 s)"));
    }
    Ok(secs.round() as i64)
}

impl Params {
    /// Reads the query string. `export`: `format` is allowed (and `last` is not).
    pub(crate) fn parse(
        q: Vec<(String, String)>,
        bucket_s: i64,
        now: f64,
        export: bool,
    ) -> Result<Params, String> {
        let (mut from, mut to, mut step, mut last) = (None, None, None, None);
        let (mut kpi, mut sum, mut format) = (Vec::new(), false, Format::Json);
        for (k, v) in q {
            let time = |v: &str| parse_time(v).map_err(|e| format!("invalid `{k}`: {e}"));
            match k.as_str() {
                "kpi" => split_kpis(&v, &mut kpi),
                "from" => from = Some(time(&v)?.floor() as i64),
                "to" => to = Some(time(&v)?.ceil() as i64),
                "step" => step = Some(parse_step(&v)?),
                "last" if !export => {
                    let n: usize = v
                        .parse()
                        .map_err(|_| format!("invalid `last`: `{v}` is not a count"))?;
                    last = Some(n);
                }
                "counter" => {
                    sum = match v.as_str() {
                        "rate" => false,
                        "sum" => true,
                        _ => return Err(format!("invalid `counter`: `{v}` (rate or sum)")),
                    }
                }
                "format" if export => {
                    format = match v.as_str() {
                        "csv" => Format::Csv,
                        "json" => Format::Json,
                        _ => return Err(format!("invalid `format`: `{v}` (csv or json)")),
                    }
                }
                _ => {
                    let known = if export {
                        "format, kpi, from, to, step, counter"
                    } else {
                        "kpi, last, from, to, step, counter"
                    };
                    return Err(format!("unknown parameter `{k}` (use {known})"));
                }
            }
        }
        let step = step.unwrap_or(bucket_s).max(bucket_s);
        let to = to.unwrap_or(now.floor() as i64);
        let from = match from {
            Some(f) => f,
            None if export => return Err("`from` is required".into()),
            None => to - (last.unwrap_or(super::api::DEFAULT_LAST) as i64 - 1).max(0) * step,
        };
        if from > to {
            return Err(format!("`from` ({from}) is after `to` ({to})"));
        }
        let steps = (to - from) / step + 1;
        if steps > MAX_STEPS {
            return Err(format!(
                "{steps} points per KPI asked (range / step); at most {MAX_STEPS}: use a larger `step`"
            ));
        }
        Ok(Params {
            kpi,
            step: Step { from, to, step },
            last,
            sum,
            format,
        })
    }
}

fn with_history(
    state: Arc<AppState>,
) -> impl Filter<Extract = (Arc<AppState>, Arc<Reader>), Error = warp::Rejection> + Clone {
    warp::any()
        .and_then(move || {
            let s = state.clone();
            async move {
                match s.history.get().cloned() {
                    Some(r) => Ok((s, r)),
                    None => Err(warp::reject::not_found()),
                }
            }
        })
        .untuple_one()
}

async fn answer(
    state: Arc<AppState>,
    reader: Arc<Reader>,
    q: Vec<(String, String)>,
    export: bool,
) -> Result<Box<dyn Reply>, warp::Rejection> {
    let bucket_s = state.snapshot().bucket_s.max(1);
    let p = match Params::parse(q, bucket_s, crate::kpi::now(), export) {
        Ok(p) => p,
        Err(e) => return Ok(error_reply(StatusCode::BAD_REQUEST, e)),
    };
    let done = tokio::task::spawn_blocking(move || export::run(&reader, &p, export)).await;
    Ok(match done {
        Ok(Ok(reply)) => reply,
        Ok(Err((status, e))) => error_reply(status, e),
        Err(e) => error_reply(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("history query: {e}"),
        ),
    })
}

pub(super) fn routes(state: Arc<AppState>) -> warp::filters::BoxedFilter<(Box<dyn Reply>,)> {
    let hist = warp::path!("api" / "metrics" / "history")
        .and(warp::get())
        .and(with_history(state.clone()))
        .and(warp::query::<Vec<(String, String)>>())
        .and_then(|s, r, q| answer(s, r, q, false));
    let st = state.clone();
    let export = warp::path!("api" / "export")
        .and(warp::get())
        .and(warp::query::<Vec<(String, String)>>())
        .and_then(move |q| {
            let s = st.clone();
            async move {
                match s.history.get().cloned() {
                    Some(r) => answer(s, r, q, true).await,
                    None => Ok(error_reply(
                        StatusCode::NOT_FOUND,
                        "history is off (--no-history, --no-state or --once): nothing to export"
                            .into(),
                    )),
                }
            }
        });
    hist.or(export).unify().boxed()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_parse_both_ways() {
        assert_eq!(parse_time("1732400000").unwrap(), 1732400000.0);
        assert_eq!(parse_time("1970-01-01T00:00:00Z").unwrap(), 0.0);
        assert_eq!(parse_time("2026-11-30T09:00:00Z").unwrap(), 1_796_029_200.0);
        assert_eq!(
            parse_time("2026-11-30T10:00:00.5+01:00").unwrap(),
            1_796_029_200.5
        );
        for bad in [
            "yesterday",
            "2026-13-01T00:00:00Z",
            "2026-11-30T09:00:00",
            "NaN",
            "1e400",
        ] {
            assert!(parse_time(bad).is_err(), "{bad}");
        }
        assert_eq!(
            crate::kpi::rfc3339(1_796_029_200.0),
            "2026-11-30T09:00:00.000Z"
        );
    }

    #[test]
    fn kpis_split_outside_labels() {
        let mut v = Vec::new();
        split_kpis(r#"a,b{x="1,2",y="3"},c*"#, &mut v);
        assert_eq!(v, ["a", r#"b{x="1,2",y="3"}"#, "c*"]);
    }

    #[test]
    fn params_default_and_caps() {
        let q = |s: &[(&str, &str)]| {
            s.iter()
                .map(|(a, b)| (a.to_string(), b.to_string()))
                .collect()
        };
        let p = Params::parse(q(&[("kpi", "x")]), 1, 1000.5, false).unwrap();
        assert_eq!(
            p.step,
            Step {
                from: 701,
                to: 1000,
                step: 1
            }
        );
        let p = Params::parse(
            q(&[("from", "0"), ("to", "86400"), ("step", "1m")]),
            1,
            0.0,
            true,
        )
        .unwrap();
        assert_eq!(p.step.step, 60);
        let e = Params::parse(q(&[("from", "0"), ("to", "1000000")]), 1, 0.0, true).unwrap_err();
        assert!(e.contains("larger `step`"), "{e}");
        assert!(Params::parse(q(&[("to", "5")]), 1, 0.0, true)
            .unwrap_err()
            .contains("required"));
        assert!(
            Params::parse(q(&[("from", "9"), ("to", "5")]), 1, 0.0, false)
                .unwrap_err()
                .contains("after")
        );
        assert!(
            Params::parse(q(&[("format", "xml"), ("from", "1")]), 1, 9.0, true)
                .unwrap_err()
                .contains("csv or json")
        );
        assert!(Params::parse(q(&[("bogus", "1")]), 1, 9.0, false)
            .unwrap_err()
            .contains("unknown parameter"));
    }
}

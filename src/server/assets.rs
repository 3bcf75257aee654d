//! The embedded dashboard (built from `web/src` into `web/dist`, committed; no node at build time).

use warp::http::StatusCode;
use warp::{Filter, Reply};

const FILES: [(&str, &str, &[u8]); 5] = [
    (
        "app.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../web/dist/app.js"),
    ),
    (
        "alerts.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../web/dist/alerts.js"),
    ),
    (
        "app.css",
        "text/css; charset=utf-8",
        include_bytes!("../../web/dist/app.css"),
    ),
    (
        "uPlot.iife.min.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../web/dist/uPlot.iife.min.js"),
    ),
    (
        "uPlot.min.css",
        "text/css; charset=utf-8",
        include_bytes!("../../web/dist/uPlot.min.css"),
    ),
];

const INDEX: &[u8] = include_bytes!("../../web/dist/index.html");

/// Assets are small and change with the binary: browsers revalidate them on every load.
fn no_cache(r: impl Reply) -> impl Reply {
    warp::reply::with_header(r, "cache-control", "no-cache")
}

pub(super) fn routes() -> warp::filters::BoxedFilter<(Box<dyn Reply>,)> {
    let index = warp::path::end().and(warp::get()).map(|| {
        Box::new(warp::reply::with_header(
            INDEX,
            "content-type",
            "text/html; charset=utf-8",
        )) as Box<dyn Reply>
    });
    let asset = warp::path!("assets" / String)
        .and(warp::get())
        .map(
            |name: String| match FILES.iter().find(|(n, _, _)| *n == name) {
                Some((_, ty, body)) => {
                    Box::new(warp::reply::with_header(*body, "content-type", *ty)) as Box<dyn Reply>
                }
                None => Box::new(warp::reply::with_status("not found", StatusCode::NOT_FOUND))
                    as Box<dyn Reply>,
            },
        );
    index
        .or(asset)
        .unify()
        .map(|r: Box<dyn Reply>| Box::new(no_cache(r)) as Box<dyn Reply>)
        .boxed()
}

//! `/metrics`: the Prometheus text exposition of every KPI and of kpid itself.

use super::AppState;
use crate::kpi::{self, prom};
use std::fmt::Write;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use warp::{Filter, Reply};

/// The whole exposition.
pub fn exposition(state: &AppState) -> String {
    let mut out = String::with_capacity(16 * 1024);
    write_exposition(state, &state.snapshot(), &mut out);
    out
}

/// Appends the whole exposition of `snap` (remote-write renders the snapshot it stamps).
pub fn write_exposition(state: &AppState, snap: &kpi::Snapshot, out: &mut String) {
    prom::prometheus(snap, out);
    super::dcgm::write(snap, out);
    let drops = snap.drops;
    let counters = [
        (
            "kpid_ws_clients_dropped_total",
            "websocket clients disconnected for being too slow",
            state.ws.dropped.load(Ordering::Relaxed),
        ),
        (
            "kpid_ws_frames_total",
            "websocket frames sent",
            state.ws.frames.load(Ordering::Relaxed),
        ),
        (
            "kpid_label_sets_folded_total",
            "label sets folded into `other` by the per-kpi cap",
            drops.label_sets_folded,
        ),
        (
            "kpid_series_refused_total",
            "series refused by the series cap",
            drops.series_refused,
        ),
        (
            "kpid_kind_conflicts_total",
            "observations refused for a kind conflicting with their kpi",
            drops.kind_conflicts,
        ),
        (
            "kpid_invalid_values_total",
            "observations refused for their value (nan, infinite, negative counter increment)",
            drops.invalid_values,
        ),
    ];
    for (name, help, v) in counters {
        let _ = writeln!(
            out,
            "# HELP {name} {help}\n# TYPE {name} counter\n{name} {v}"
        );
    }
    let http = state.http.snapshot();
    let _ = writeln!(
        out,
        "# HELP kpid_http_refused_total requests and connections refused, closed or failed, by reason\n# TYPE kpid_http_refused_total counter"
    );
    for (reason, v) in http.refusals() {
        let _ = writeln!(out, "kpid_http_refused_total{{reason=\"{reason}\"}} {v}");
    }
    let _ = writeln!(
        out,
        "# HELP kpid_http_connections open http connections, websockets included\n# TYPE kpid_http_connections gauge\nkpid_http_connections {}\n# HELP kpid_http_accept_errors_total failed accepts (out of file descriptors, ...)\n# TYPE kpid_http_accept_errors_total counter\nkpid_http_accept_errors_total {}",
        http.connections_open, http.accept_errors
    );
    let files = state.sources.files.lock().clone();
    type Get = fn(&crate::sources::FileHealth) -> u64;
    let per_file: [(&str, &str, Get); 7] = [
        ("kpid_source_lines_total", "lines read per file", |f| {
            f.lines
        }),
        ("kpid_source_bytes_total", "bytes read per file", |f| {
            f.bytes
        }),
        (
            "kpid_source_parse_errors_total",
            "lines the parser rejected per file",
            |f| f.parse_errors,
        ),
        (
            "kpid_source_discarded_lines_total",
            "lines over the length cap, discarded",
            |f| f.discarded_long_lines,
        ),
        (
            "kpid_source_truncated_bytes_lost_total",
            "bytes lost to in-place truncation before they were read",
            |f| f.truncated_bytes_lost,
        ),
        (
            "kpid_source_missed_files_total",
            "files with lines never read (compressed or gone before they could be opened)",
            |f| f.missed_files,
        ),
        (
            "kpid_source_event_overflows_total",
            "inotify queue overflows: files created and deleted meanwhile could not be counted",
            |f| f.event_overflows,
        ),
    ];
    for (name, help, get) in per_file {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} counter");
        for f in &files {
            out.push_str(name);
            kpi::write_labels(
                out,
                [("source", f.source.as_str()), ("path", f.path.as_str())],
            );
            let _ = writeln!(out, " {}", get(f));
        }
    }
    let _ = writeln!(out, "# HELP kpid_uptime_seconds seconds since kpid started\n# TYPE kpid_uptime_seconds gauge\nkpid_uptime_seconds {}", state.started.elapsed().as_secs_f64());
    for s in &state.sections {
        s.prometheus(out);
    }
}

pub(super) fn route(state: Arc<AppState>) -> warp::filters::BoxedFilter<(Box<dyn Reply>,)> {
    warp::path!("metrics")
        .and(warp::get())
        .map(move || {
            let body = exposition(&state);
            Box::new(warp::reply::with_header(
                body,
                "content-type",
                "text/plain; version=0.0.4; charset=utf-8",
            )) as Box<dyn Reply>
        })
        .boxed()
}

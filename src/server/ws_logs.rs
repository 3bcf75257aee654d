//! `/ws/logs?source=&level=&q=&after=`: the log viewer's live stream. The filters of
//! `/api/logs` (docs/api.md), then a frame with the lines that match each time the engine
//! publishes new ones (at most [`FRAME_LINES`] a frame; a backlog goes out frame after frame
//! without waiting), shaped like `/api/logs`'s answer. Without `after` it starts with what
//! comes next. A client that takes longer than `MAX_LAG` to take a frame is disconnected
//! (1008, "too slow") and counted in `/api/health` → `ws.dropped`; it reconnects with
//! `after` set to the last line it has.

use super::api::error_reply;
use super::ws::{accept, upgrade, MAX_LAG};
use super::AppState;
use crate::logs::{LogQuery, LogsSnapshot};
use futures_util::{SinkExt, StreamExt};
use hyper::upgrade::OnUpgrade;
use hyper_util::rt::TokioIo;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use tokio::sync::watch;
use tokio_tungstenite::WebSocketStream;
use tungstenite::protocol::{frame::coding::CloseCode, CloseFrame};
use tungstenite::Message;
use warp::http::StatusCode;
use warp::{Filter, Reply};

/// Most lines one frame carries.
pub const FRAME_LINES: usize = 1000;

pub(super) fn route(state: Arc<AppState>) -> warp::filters::BoxedFilter<(Box<dyn Reply>,)> {
    warp::path!("ws" / "logs")
        .and(warp::query::<Vec<(String, String)>>())
        .and(upgrade())
        .map(
            move |q: Vec<(String, String)>, on: Option<OnUpgrade>, key: String| {
                let query = match LogQuery::parse(&q) {
                    Ok(x) => x,
                    Err(e) => return error_reply(StatusCode::BAD_REQUEST, e.to_string()),
                };
                let Some(rx) = state.logs.get().cloned() else {
                    return error_reply(
                        StatusCode::NOT_FOUND,
                        "the log viewer is off ([logs] lines_per_source = 0)".into(),
                    );
                };
                let s = state.clone();
                accept(on, &key, move |ws| stream(ws, s, rx, query))
            },
        )
        .boxed()
}

async fn stream(
    ws: WebSocketStream<TokioIo<hyper::upgrade::Upgraded>>,
    state: Arc<AppState>,
    mut rx: watch::Receiver<Arc<LogsSnapshot>>,
    mut q: LogQuery,
) {
    let (mut out, mut inc) = ws.split();
    state.ws.clients.fetch_add(1, Ordering::Relaxed);
    // The last line sent (or skipped as already known); `None` with `from_start` until the
    // first line exists: then every line from the oldest.
    let mut last = q.after();
    let mut from_start = false;
    let slow = loop {
        let snap = rx.borrow_and_update().clone();
        if last.is_none() && !from_start {
            match snap.next_seq {
                0 => from_start = true,
                n => last = Some(n - 1),
            }
        }
        let mut more = false;
        if snap.next_seq > 0 && last.is_none_or(|l| l + 1 < snap.next_seq) {
            q.follow(last, FRAME_LINES);
            let reply = q.run(&snap);
            more = reply.more;
            last = Some(reply.lines.last().map_or(snap.next_seq - 1, |l| {
                if more {
                    l.seq
                } else {
                    snap.next_seq - 1
                }
            }));
            if !reply.lines.is_empty() {
                let text = serde_json::to_string(&reply).unwrap_or_default();
                match tokio::time::timeout(MAX_LAG, out.send(Message::Text(text.into()))).await {
                    Ok(Ok(())) => {
                        state.ws.frames.fetch_add(1, Ordering::Relaxed);
                    }
                    Ok(Err(_)) => break false,
                    Err(_) => break true,
                }
            }
        }
        if more {
            continue;
        }
        tokio::select! {
            r = rx.changed() => if r.is_err() { break false },
            m = inc.next() => match m {
                Some(Ok(Message::Close(_))) | Some(Err(_)) | None => break false,
                Some(Ok(_)) => {}
            },
        }
    };
    if slow {
        state.ws.dropped.fetch_add(1, Ordering::Relaxed);
        let frame = CloseFrame {
            code: CloseCode::from(1008),
            reason: "too slow".into(),
        };
        let _ = tokio::time::timeout(
            std::time::Duration::from_secs(1),
            out.send(Message::Close(Some(frame))),
        )
        .await;
    }
    state.ws.clients.fetch_sub(1, Ordering::Relaxed);
}

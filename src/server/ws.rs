//! `/ws/metrics`: a snapshot on connect, then an update with the KPIs that changed each time
//! the engine publishes (it publishes changes at most once per interval). One broadcaster
//! renders each changed KPI once, and the whole frame once for all clients without a
//! subscription; every client has a bounded queue, and a client that lets its queue fill, or
//! that has not read what was sent [`MAX_LAG`] ago, is disconnected and counted, so it never
//! slows the others.
//!
//! How far behind a client is reading: a ping rides with an update frame at most once a
//! second, and its pong comes back only once the client has read everything sent before it.
//! A client whose pong is [`MAX_LAG`] late is dropped whatever the kernel's socket buffers
//! hold (more than 30 s of updates in the load benchmark, `bench/live/ws_load.rs`).
//!
//! The upgrade is done here rather than with warp's `Ws` so that each connection's
//! WebSocket can have a small read buffer: tungstenite's default (128 KiB, zero-filled before
//! every read attempt) cost 130 KB of memory and a 128 KiB memset per frame for each client.

use super::api::{entry, selected, Entry, HistoryQuery};
use super::{health_json, AppState, MAX_WS_MESSAGE};
use crate::kpi::{view, Point};
use futures_util::{SinkExt, StreamExt};
use hyper::upgrade::OnUpgrade;
use hyper_util::rt::TokioIo;
use parking_lot::Mutex;
use serde::Serialize;
use serde_json::json;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, Notify};
use tokio::time::Instant;
use tokio_tungstenite::WebSocketStream;
use tungstenite::protocol::{frame::coding::CloseCode, CloseFrame, Role, WebSocketConfig};
use tungstenite::{Bytes, Message, Utf8Bytes};
use warp::http::StatusCode;
use warp::{Filter, Reply};

/// Updates a client may have queued before it counts as too slow.
pub const CLIENT_QUEUE: usize = 32;

/// Longest quiet period without an update frame (a heartbeat carrying health).
const HEARTBEAT: Duration = Duration::from_secs(5);

/// Longest a client may take to read what was sent to it (measured by a ping's pong) before
/// it is disconnected and counted as dropped.
pub const MAX_LAG: Duration = Duration::from_secs(5);

/// Least time between two pings to one client.
const PING_EVERY: Duration = Duration::from_secs(1);

/// Longest wait to hand a closing client its close frame.
const CLOSE_WAIT: Duration = Duration::from_secs(1);

/// Read buffer of each connection: client messages are small (a subscription); a larger one
/// grows the buffer up to [`MAX_WS_MESSAGE`] as needed.
const READ_BUFFER: usize = 1024;

/// One rendered update, shared by all clients.
#[derive(Debug)]
pub(crate) struct Update {
    ts: f64,
    /// (KPI name, id, rendered JSON entry).
    entries: Vec<(String, String, String)>,
    health: String,
    /// The whole frame, for clients without a subscription.
    all: Utf8Bytes,
}

#[derive(Debug)]
struct Client {
    id: u64,
    tx: mpsc::Sender<Arc<Update>>,
    kill: Arc<Notify>,
}

/// Connected clients.
#[derive(Debug, Default)]
pub(crate) struct Hub {
    clients: Mutex<Vec<Client>>,
    next: std::sync::atomic::AtomicU64,
}

impl Hub {
    fn add(&self, tx: mpsc::Sender<Arc<Update>>, kill: Arc<Notify>) -> u64 {
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        self.clients.lock().push(Client { id, tx, kill });
        id
    }

    /// Removes a client; false when it was no longer there (dropped by [`Hub::send`]).
    fn remove(&self, id: u64) -> bool {
        let mut clients = self.clients.lock();
        let n = clients.len();
        clients.retain(|c| c.id != id);
        clients.len() < n
    }

    fn is_empty(&self) -> bool {
        self.clients.lock().is_empty()
    }

    /// Queues `u` for every client; returns how many were dropped for being full.
    fn send(&self, u: &Arc<Update>) -> u64 {
        let mut dropped = 0;
        self.clients
            .lock()
            .retain(|c| match c.tx.try_send(u.clone()) {
                Ok(()) => true,
                Err(mpsc::error::TrySendError::Full(_)) => {
                    dropped += 1;
                    c.kill.notify_one();
                    false
                }
                Err(mpsc::error::TrySendError::Closed(_)) => false,
            });
        dropped
    }
}

/// Pushes updates: waits for the engine's next publication (or the heartbeat), renders the
/// KPIs rebuilt since the last push, and queues that for every client.
pub(crate) async fn broadcaster(state: Arc<AppState>) {
    let mut rx = state.published.clone();
    let mut last_rev = rx.borrow_and_update().seq;
    let (mut dash_rev, mut headline) = (state.dashboard_rev(), Vec::new());
    loop {
        let changed = tokio::time::timeout(HEARTBEAT, rx.changed()).await;
        if matches!(changed, Ok(Err(_))) {
            return; // the engine is gone
        }
        let snap = rx.borrow_and_update().clone();
        if state.hub.is_empty() {
            last_rev = snap.seq;
            continue;
        }
        let health = health_json(&state).to_string();
        let (t, res) = (snap.ts, snap.bucket_s);
        let mut entries = Vec::new();
        let layout = state.layout(&snap);
        // A reloaded `[dashboard]`, or a new header strip, moves KPIs that did not change:
        // all are sent again.
        let rev = state.dashboard_rev();
        let relayout = rev != dash_rev || layout.headline() != headline.as_slice();
        if relayout {
            (dash_rev, headline) = (rev, layout.headline().to_vec());
        }
        for k in snap.kpis.iter().filter(|k| relayout || k.rev > last_rev) {
            // The current bucket, and the one before it (now complete): a frame that slips
            // across a bucket boundary still delivers every bucket's final figure.
            let points = k.points.range(t as i64 - 2 * res, i64::MAX, 2);
            let e = UpdateEntry {
                entry: entry(k, &layout),
                point: points.last().copied(),
                points,
            };
            let json = serde_json::to_string(&e).unwrap_or_default();
            entries.push((k.desc.name.clone(), k.desc.id.clone(), json));
        }
        last_rev = snap.seq;
        let mut update = Update {
            ts: t,
            entries,
            health,
            all: Utf8Bytes::from_static(""),
        };
        update.all = render(&update, &[]).into();
        let update = Arc::new(update);
        let dropped = state.hub.send(&update);
        state.ws.dropped.fetch_add(dropped, Ordering::Relaxed);
    }
}

#[derive(Serialize)]
struct UpdateEntry<'a> {
    #[serde(flatten)]
    entry: Entry<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    point: Option<Point>,
    points: Vec<Point>,
}

#[derive(Serialize)]
struct SnapshotEntry<'a> {
    #[serde(flatten)]
    entry: Entry<'a>,
    history: view::Columns,
}

#[derive(Serialize)]
struct SnapshotFrame<'a> {
    #[serde(rename = "type")]
    ty: &'static str,
    ts: f64,
    interval_ms: u64,
    bucket_s: i64,
    kpis: Vec<SnapshotEntry<'a>>,
    health: serde_json::Value,
}

/// Time between two publications of changes: the interval less a small margin (a tenth of
/// it, at most 5 ms) for tailing, parsing and rendering, so that a change waits at most one
/// interval in all.
pub fn pace(interval: Duration) -> Duration {
    interval.saturating_sub((interval / 10).min(Duration::from_millis(5)))
}

fn render(u: &Update, sub: &[String]) -> String {
    let mut s = String::with_capacity(
        256 + u.entries.iter().map(|e| e.2.len() + 1).sum::<usize>() + u.health.len(),
    );
    s.push_str(&format!("{{\"type\":\"update\",\"ts\":{},\"kpis\":[", u.ts));
    let mut first = true;
    for (name, id, e) in &u.entries {
        if sub.is_empty()
            || sub.iter().any(|k| {
                k == "*"
                    || k == name
                    || k == id
                    || k.strip_suffix('*').is_some_and(|p| name.starts_with(p))
            })
        {
            if !first {
                s.push(',');
            }
            first = false;
            s.push_str(e);
        }
    }
    s.push_str("],\"health\":");
    s.push_str(&u.health);
    s.push('}');
    s
}

fn snapshot(state: &AppState, sub: &[String]) -> String {
    let health = health_json(state);
    let snap = state.snapshot();
    let layout = state.layout(&snap);
    let q = HistoryQuery {
        kpi: sub.to_vec(),
        ..HistoryQuery::default()
    };
    let kpis = snap
        .kpis
        .iter()
        .filter(|k| selected(&k.desc, sub))
        .map(|k| SnapshotEntry {
            entry: entry(k, &layout),
            history: view::columns(k.desc.kind, &k.points.range(q.from, q.to, q.last)),
        })
        .collect();
    let frame = SnapshotFrame {
        ty: "snapshot",
        ts: snap.ts,
        interval_ms: state.interval.as_millis() as u64,
        bucket_s: snap.bucket_s,
        kpis,
        health,
    };
    serde_json::to_string(&frame).unwrap_or_default()
}

/// Sleeps until `t`, or forever without one.
async fn until(t: Option<Instant>) {
    match t {
        Some(t) => tokio::time::sleep_until(t).await,
        None => std::future::pending().await,
    }
}

/// Why a client's loop ended.
enum End {
    /// Closed by the client or the connection.
    Gone,
    /// Dropped by the hub for a full queue (already counted).
    Full,
    /// Its pong is [`MAX_LAG`] late.
    Lagging,
    /// Sent a message over the size limit.
    TooLarge,
}

async fn client(ws: WebSocketStream<TokioIo<hyper::upgrade::Upgraded>>, state: Arc<AppState>) {
    let (mut out, mut inc) = ws.split();
    let (tx, mut rx) = mpsc::channel::<Arc<Update>>(CLIENT_QUEUE);
    let kill = Arc::new(Notify::new());
    let id = state.hub.add(tx, kill.clone());
    state.ws.clients.fetch_add(1, Ordering::Relaxed);
    let mut sub: Vec<String> = Vec::new();
    let mut pending: Option<Utf8Bytes> = Some(snapshot(&state, &sub).into());
    // The ping in flight (sent at, payload), and when the last one was sent.
    let mut ping: Option<(Instant, u64)> = None;
    let (mut pings, mut last_ping) = (0u64, Instant::now());
    let end = 'run: loop {
        let late = ping.map(|(t, _)| t + MAX_LAG);
        if let Some(frame) = pending.take() {
            let with_ping = ping.is_none() && last_ping.elapsed() >= PING_EVERY;
            if with_ping {
                pings += 1;
                last_ping = Instant::now();
                ping = Some((last_ping, pings));
            }
            let send = async {
                if with_ping {
                    let payload = Bytes::copy_from_slice(&pings.to_be_bytes());
                    out.feed(Message::Ping(payload)).await?;
                }
                out.send(Message::Text(frame)).await
            };
            tokio::select! {
                biased;
                r = send => if r.is_err() { break End::Gone },
                _ = kill.notified() => break End::Full,
                _ = until(late) => break End::Lagging,
            }
            state.ws.frames.fetch_add(1, Ordering::Relaxed);
        }
        // The hub drops a client's sender when its queue is full: `recv` then ends the loop.
        tokio::select! {
            u = rx.recv() => match u {
                Some(u) if sub.is_empty() => pending = Some(u.all.clone()),
                Some(u) => pending = Some(render(&u, &sub).into()),
                None => break End::Full,
            },
            m = inc.next() => match m {
                Some(Ok(Message::Text(m))) => {
                    let v: serde_json::Value = serde_json::from_str(m.as_str()).unwrap_or_default();
                    let reply = match v["type"].as_str() {
                        Some("subscribe") => {
                            sub = v["kpis"].as_array().map(|a| a.iter().filter_map(|k| k.as_str().map(str::to_owned)).collect()).unwrap_or_default();
                            if sub.iter().any(|k| k == "*") {
                                sub.clear();
                            }
                            snapshot(&state, &sub)
                        }
                        Some("ping") => "{\"type\":\"pong\"}".to_owned(),
                        _ => json!({"type": "error", "error": "unknown message (expected {\"type\": \"subscribe\"|\"ping\"})"}).to_string(),
                    };
                    pending = Some(reply.into());
                }
                Some(Ok(Message::Pong(p))) => {
                    if ping.is_some_and(|(_, n)| p[..] == n.to_be_bytes()) {
                        ping = None;
                    }
                }
                Some(Ok(Message::Close(_))) => break 'run End::Gone,
                Some(Ok(_)) => {}
                Some(Err(tungstenite::Error::Capacity(_))) => break End::TooLarge,
                _ => break End::Gone,
            },
            _ = until(late) => break End::Lagging,
        }
    };
    // Off the hub first, so that nothing more is queued for it.
    let counted = !state.hub.remove(id);
    let close = match end {
        End::TooLarge => {
            state.http.ws_too_large.fetch_add(1, Ordering::Relaxed);
            Some((1009, "message too big: at most 65536 bytes"))
        }
        End::Lagging | End::Full => {
            if !counted {
                state.ws.dropped.fetch_add(1, Ordering::Relaxed);
            }
            Some((1008, "too slow"))
        }
        End::Gone => None,
    };
    let (code, reason) = close.unwrap_or((1000, ""));
    let frame = CloseFrame {
        code: CloseCode::from(code),
        reason: reason.into(),
    };
    // A client too slow to read its updates may not read this either.
    let _ = tokio::time::timeout(CLOSE_WAIT, out.send(Message::Close(Some(frame)))).await;
    state.ws.clients.fetch_sub(1, Ordering::Relaxed);
}

fn ws_config() -> WebSocketConfig {
    WebSocketConfig::default()
        .read_buffer_size(READ_BUFFER)
        .max_message_size(Some(MAX_WS_MESSAGE))
        .max_frame_size(Some(MAX_WS_MESSAGE))
}

/// The WebSocket upgrade's answer (101), with `serve` run on the connection once upgraded.
/// Done by hand rather than with warp's `Ws` for the small read buffer ([`ws_config`]).
pub(super) fn accept<F, Fut>(on: Option<OnUpgrade>, key: &str, serve: F) -> Box<dyn Reply>
where
    F: FnOnce(WebSocketStream<TokioIo<hyper::upgrade::Upgraded>>) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    if let Some(on) = on {
        tokio::spawn(async move {
            match on.await {
                Ok(up) => {
                    let io = TokioIo::new(up);
                    let ws =
                        WebSocketStream::from_raw_socket(io, Role::Server, Some(ws_config())).await;
                    serve(ws).await;
                }
                Err(e) => tracing::debug!("websocket upgrade failed: {e}"),
            }
        });
    }
    let accept = tungstenite::handshake::derive_accept_key(key.as_bytes());
    let r = warp::reply::with_status(warp::reply(), StatusCode::SWITCHING_PROTOCOLS);
    let r = warp::reply::with_header(r, "connection", "upgrade");
    let r = warp::reply::with_header(r, "upgrade", "websocket");
    Box::new(warp::reply::with_header(r, "sec-websocket-accept", accept))
}

/// What a WebSocket route takes: the upgrade handle (taken before `warp::ws()`, which checks
/// the request's headers, takes its own: both share the one connection upgrade) and the key.
pub(super) fn upgrade(
) -> impl Filter<Extract = (Option<OnUpgrade>, String), Error = warp::Rejection> + Clone {
    warp::ext::optional::<OnUpgrade>()
        .and(warp::ws())
        .and(warp::header::<String>("sec-websocket-key"))
        .map(|on, _: warp::ws::Ws, key| (on, key))
        .untuple_one()
}

pub(super) fn route(state: Arc<AppState>) -> warp::filters::BoxedFilter<(Box<dyn Reply>,)> {
    warp::path!("ws" / "metrics")
        .and(upgrade())
        .map(move |on: Option<OnUpgrade>, key: String| {
            let s = state.clone();
            accept(on, &key, move |ws| client(ws, s))
        })
        .boxed()
}

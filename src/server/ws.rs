//! `/ws/metrics`: a snapshot on connect, then an update with the KPIs that changed each time
//! the engine publishes (it publishes changes at most once per interval). One broadcaster
//! renders each changed KPI once; every client has a bounded queue, and a client that lets
//! its queue fill is disconnected and counted, so it never slows the others.

use super::api::{entry, selected, Entry, HistoryQuery};
use super::{health_json, AppState, MAX_WS_MESSAGE};
use crate::kpi::{view, Point};
use futures_util::{SinkExt, StreamExt};
use parking_lot::Mutex;
use serde::Serialize;
use serde_json::json;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, Notify};
use warp::ws::{Message, WebSocket};
use warp::{Filter, Reply};

/// Updates a client may have queued before it counts as too slow.
pub const CLIENT_QUEUE: usize = 32;

/// Longest quiet period without an update frame (a heartbeat carrying health).
const HEARTBEAT: Duration = Duration::from_secs(5);

/// One rendered update, shared by all clients.
#[derive(Debug)]
pub(crate) struct Update {
    ts: f64,
    /// (KPI name, id, rendered JSON entry).
    entries: Vec<(String, String, String)>,
    health: String,
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

    fn remove(&self, id: u64) {
        self.clients.lock().retain(|c| c.id != id);
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
        for k in snap.kpis.iter().filter(|k| k.rev > last_rev) {
            // The current bucket, and the one before it (now complete): a frame that slips
            // across a bucket boundary still delivers every bucket's final figure.
            let points = k.points.range(t as i64 - 2 * res, i64::MAX, 2);
            let e = UpdateEntry {
                entry: entry(k),
                point: points.last().copied(),
                points,
            };
            let json = serde_json::to_string(&e).unwrap_or_default();
            entries.push((k.desc.name.clone(), k.desc.id.clone(), json));
        }
        last_rev = snap.seq;
        let update = Arc::new(Update {
            ts: t,
            entries,
            health,
        });
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
    let q = HistoryQuery {
        kpi: sub.to_vec(),
        ..HistoryQuery::default()
    };
    let kpis = snap
        .kpis
        .iter()
        .filter(|k| selected(&k.desc, sub))
        .map(|k| SnapshotEntry {
            entry: entry(k),
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

/// A message over the size limit (tungstenite's capacity error, inside warp's).
fn too_large(e: &warp::Error) -> bool {
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        if let Some(t) = s.downcast_ref::<tungstenite::Error>() {
            return matches!(t, tungstenite::Error::Capacity(_));
        }
        source = s.source();
    }
    false
}

async fn client(ws: WebSocket, state: Arc<AppState>) {
    let (mut out, mut inc) = ws.split();
    let (tx, mut rx) = mpsc::channel::<Arc<Update>>(CLIENT_QUEUE);
    let kill = Arc::new(Notify::new());
    let id = state.hub.add(tx, kill.clone());
    state.ws.clients.fetch_add(1, Ordering::Relaxed);
    let mut sub: Vec<String> = Vec::new();
    let mut pending = Some(snapshot(&state, &sub));
    let mut close: (u16, &str) = (1008, "too slow or closed");
    loop {
        if let Some(frame) = pending.take() {
            tokio::select! {
                r = out.send(Message::text(frame)) => if r.is_err() { break },
                _ = kill.notified() => break,
            }
            state.ws.frames.fetch_add(1, Ordering::Relaxed);
        }
        tokio::select! {
            u = rx.recv() => match u {
                Some(u) => pending = Some(render(&u, &sub)),
                None => break,
            },
            m = inc.next() => match m {
                Some(Ok(m)) if m.is_text() => {
                    let v: serde_json::Value = serde_json::from_slice(m.as_bytes()).unwrap_or_default();
                    match v["type"].as_str() {
                        Some("subscribe") => {
                            sub = v["kpis"].as_array().map(|a| a.iter().filter_map(|k| k.as_str().map(str::to_owned)).collect()).unwrap_or_default();
                            if sub.iter().any(|k| k == "*") {
                                sub.clear();
                            }
                            pending = Some(snapshot(&state, &sub));
                        }
                        Some("ping") => pending = Some("{\"type\":\"pong\"}".to_owned()),
                        _ => pending = Some(json!({"type": "error", "error": "unknown message (expected {\"type\": \"subscribe\"|\"ping\"})"}).to_string()),
                    }
                }
                Some(Ok(m)) if m.is_close() => break,
                Some(Ok(_)) => {}
                Some(Err(e)) if too_large(&e) => {
                    state.http.ws_too_large.fetch_add(1, Ordering::Relaxed);
                    close = (1009, "message too big: at most 65536 bytes");
                    break;
                }
                _ => break,
            },
            _ = kill.notified() => break,
        }
    }
    let _ = out.send(Message::close_with(close.0, close.1)).await;
    state.hub.remove(id);
    state.ws.clients.fetch_sub(1, Ordering::Relaxed);
}

pub(super) fn route(state: Arc<AppState>) -> warp::filters::BoxedFilter<(Box<dyn Reply>,)> {
    warp::path!("ws" / "metrics")
        .and(warp::ws())
        .map(move |ws: warp::ws::Ws| {
            let s = state.clone();
            Box::new(
                ws.max_message_size(MAX_WS_MESSAGE)
                    .max_frame_size(MAX_WS_MESSAGE)
                    .on_upgrade(move |sock| client(sock, s)),
            ) as Box<dyn Reply>
        })
        .boxed()
}

//! Notification channels: webhook (Alertmanager v4 payload, `http://` POST with retries and
//! exponential backoff), console and file (JSON lines). Each channel is one task that groups
//! alerts by its `group_by` labels, waits `group_wait` before a new group's first message and
//! `group_interval` between changes, and re-sends a group still firing every
//! `repeat_interval` (unless every alert in it was acknowledged).

use super::payload::{AmAlert, Labels, Payload};
use super::rules::{ChannelKind, NotifyConfig};
use serde::Serialize;
use std::collections::BTreeMap;
use std::io::Write;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::mpsc;
use tokio::time::Instant;

/// Alerts waiting for a channel.
const QUEUE: usize = 1024;

/// What a channel did.
#[derive(Debug, Default, Serialize)]
pub struct ChannelStats {
    /// Attempts (first tries and retries).
    pub attempts: AtomicU64,
    /// Payloads delivered.
    pub delivered: AtomicU64,
    /// Retries after a failed attempt.
    pub retried: AtomicU64,
    /// Payloads given up on after every retry.
    pub failed: AtomicU64,
    /// Alerts dropped because the channel's queue was full.
    pub dropped: AtomicU64,
}

impl ChannelStats {
    /// `(result, count)` pairs for `/metrics`.
    pub fn results(&self) -> [(&'static str, u64); 5] {
        [
            ("attempt", self.attempts.load(Relaxed)),
            ("delivered", self.delivered.load(Relaxed)),
            ("retried", self.retried.load(Relaxed)),
            ("failed", self.failed.load(Relaxed)),
            ("dropped", self.dropped.load(Relaxed)),
        ]
    }
}

/// A running channel.
#[derive(Debug)]
pub struct Channel {
    /// Name (`receiver`).
    pub name: String,
    /// Kind.
    pub kind: ChannelKind,
    /// Counters.
    pub stats: Arc<ChannelStats>,
    tx: mpsc::Sender<AmAlert>,
}

impl Channel {
    /// Queues an alert; a full queue drops it and counts.
    pub fn send(&self, a: AmAlert) {
        if self.tx.try_send(a).is_err() {
            self.stats.dropped.fetch_add(1, Relaxed);
        }
    }
}

/// Starts a channel's task. `acked` tells whether an alert (by fingerprint) was acknowledged.
pub fn spawn(
    cfg: NotifyConfig,
    external_url: Arc<std::sync::OnceLock<String>>,
    acked: Arc<dyn Fn(&str) -> bool + Send + Sync>,
) -> Channel {
    let (tx, rx) = mpsc::channel(QUEUE);
    let stats = Arc::new(ChannelStats::default());
    let name = cfg.name.clone().unwrap_or_else(|| cfg.kind.as_str().into());
    let ch = Channel {
        name: name.clone(),
        kind: cfg.kind,
        stats: stats.clone(),
        tx,
    };
    tokio::spawn(run(cfg, name, rx, stats, external_url, acked));
    ch
}

struct Group {
    labels: Labels,
    alerts: BTreeMap<String, AmAlert>,
    due: Option<Instant>,
    last_sent: Option<Instant>,
}

async fn run(
    cfg: NotifyConfig,
    name: String,
    mut rx: mpsc::Receiver<AmAlert>,
    stats: Arc<ChannelStats>,
    url: Arc<std::sync::OnceLock<String>>,
    acked: Arc<dyn Fn(&str) -> bool + Send + Sync>,
) {
    let mut groups: BTreeMap<Labels, Group> = BTreeMap::new();
    let (wait, interval, repeat) = (
        cfg.group_wait.0 .0,
        cfg.group_interval.0,
        cfg.repeat_interval.0,
    );
    loop {
        let next = groups
            .values()
            .filter_map(|g| g.due.or_else(|| g.last_sent.map(|t| t + repeat)))
            .min();
        let sleep = async {
            match next {
                Some(t) => tokio::time::sleep_until(t).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            a = rx.recv() => {
                let Some(a) = a else { return };
                let key: Labels = cfg
                    .group_by
                    .iter()
                    .filter_map(|l| a.labels.get(l).map(|v| (l.clone(), v.clone())))
                    .collect();
                let now = Instant::now();
                let g = groups.entry(key.clone()).or_insert_with(|| Group {
                    labels: key,
                    alerts: BTreeMap::new(),
                    due: None,
                    last_sent: None,
                });
                g.alerts.insert(a.fingerprint.clone(), a);
                if g.due.is_none() {
                    g.due = Some(match g.last_sent {
                        None => now + wait,
                        Some(t) => (t + interval).max(now),
                    });
                }
            }
            _ = sleep => {
                let now = Instant::now();
                let base = url.get().cloned().unwrap_or_default();
                let mut empty = Vec::new();
                for (k, g) in groups.iter_mut() {
                    let repeat_due = g.due.is_none() && g.last_sent.is_some_and(|t| t + repeat <= now);
                    if !(g.due.is_some_and(|t| t <= now) || repeat_due) {
                        continue;
                    }
                    let all_acked = g.alerts.values().all(|a| a.status != "firing" || acked(&a.fingerprint));
                    if !(repeat_due && all_acked) {
                        let p = Payload::new(&name, g.labels.clone(), g.alerts.values().cloned().collect(), &base);
                        deliver(&cfg, &p, &stats).await;
                    }
                    g.due = None;
                    g.last_sent = Some(Instant::now());
                    g.alerts.retain(|_, a| a.status == "firing");
                    if g.alerts.is_empty() {
                        empty.push(k.clone());
                    }
                }
                for k in empty {
                    groups.remove(&k);
                }
            }
        }
    }
}

/// Sends one payload, retrying a webhook with exponential backoff.
async fn deliver(cfg: &NotifyConfig, p: &Payload, stats: &ChannelStats) {
    let body = serde_json::to_vec(p).unwrap_or_default();
    let mut backoff = Duration::from_millis(250);
    for attempt in 0..=cfg.max_retries {
        if attempt > 0 {
            stats.retried.fetch_add(1, Relaxed);
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(Duration::from_secs(5));
        }
        stats.attempts.fetch_add(1, Relaxed);
        let r = match cfg.kind {
            ChannelKind::Console => {
                for a in &p.alerts {
                    let sev = a.labels.get("severity").map_or("", String::as_str);
                    let summary = a.annotations.get("summary").map_or("", String::as_str);
                    eprintln!(
                        "kpid alert {} [{sev}] {} {:?} {summary}",
                        a.status.to_uppercase(),
                        a.labels.get("alertname").map_or("", String::as_str),
                        a.labels
                    );
                }
                Ok(())
            }
            ChannelKind::File => append(cfg.path.as_deref().expect("validated"), &body),
            ChannelKind::Webhook => {
                let url = cfg.url.as_deref().expect("validated");
                match tokio::time::timeout(cfg.timeout.0, post(url, &body)).await {
                    Ok(Ok(s)) if (200..300).contains(&s) => Ok(()),
                    Ok(Ok(s)) if (400..500).contains(&s) && s != 429 => {
                        tracing::warn!("alert webhook {url}: status {s}, not retried");
                        stats.failed.fetch_add(1, Relaxed);
                        return;
                    }
                    Ok(Ok(s)) => Err(format!("status {s}")),
                    Ok(Err(e)) => Err(e.to_string()),
                    Err(_) => Err("timed out".into()),
                }
            }
        };
        match r {
            Ok(()) => {
                stats.delivered.fetch_add(1, Relaxed);
                return;
            }
            Err(e) => tracing::debug!(
                "alert channel {}: attempt {attempt}: {e}",
                cfg.kind.as_str()
            ),
        }
    }
    tracing::warn!(
        "alert channel {}: gave up after {} retries",
        cfg.kind.as_str(),
        cfg.max_retries
    );
    stats.failed.fetch_add(1, Relaxed);
}

fn append(path: &std::path::Path, body: &[u8]) -> Result<(), String> {
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(|e| e.to_string())?;
    let mut line = body.to_vec();
    line.push(b'\n');
    f.write_all(&line).map_err(|e| e.to_string())
}

/// A minimal HTTP/1.1 POST (`http://` only); returns the response status.
async fn post(url: &str, body: &[u8]) -> std::io::Result<u16> {
    let rest = url.strip_prefix("http://").unwrap_or(url);
    let (host, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let mut s = tokio::net::TcpStream::connect(host).await?;
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: kpid/{}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        env!("CARGO_PKG_VERSION"),
        body.len()
    );
    s.write_all(head.as_bytes()).await?;
    s.write_all(body).await?;
    let mut buf = Vec::with_capacity(256);
    let mut chunk = [0u8; 256];
    while !buf.windows(2).any(|w| w == b"\r\n") && buf.len() < 4096 {
        let n = s.read(&mut chunk).await?;
        if n == 0 {
            break;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    let line = String::from_utf8_lossy(&buf);
    line.split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| std::io::Error::new(std::io::ErrorKind::InvalidData, "no http status"))
}

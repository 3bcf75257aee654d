//! Exports to what fleets already run: Prometheus remote-write (`--remote-write URL`,
//! `[remote_write]`), to Prometheus with its receiver enabled, Mimir, VictoriaMetrics, Thanos
//! Receive or any other remote-write 1.0 receiver.
//!
//! A reader of what the engine publishes, like the server: each receiver gets a task that
//! holds the [`Published`](crate::engine::Published) watch receiver, never the store. Every
//! `interval` it renders the current snapshot exactly as `/metrics` does (same names, labels
//! and values: counters `_total`, gauges, summaries' quantiles with `_sum` and `_count`,
//! histograms' `_bucket`, the dcgm-exporter aliases and kpid's own `kpid_*` figures), stamps
//! every sample with the snapshot's time, adds the external labels (`job`, `instance`) and
//! queues the result as snappy-compressed protobuf batches ([`wire`]). Batches go out oldest
//! first, one request at a time, so every series' samples arrive in time order; failures are
//! retried with backoff, refusals and a full queue drop batches and count them ([`queue`],
//! [`section`]). docs/remote-write.md tells the protocol and the choices.

mod config;
mod http;
mod queue;
mod section;
mod sender;
mod wire;

pub use config::RemoteWriteConfig;

use crate::engine::Published;
use crate::health::HealthSection;
use crate::kpi::Snapshot;
use config::Target;
use std::sync::Arc;
use std::time::Duration;

/// A remote-write setting that cannot work.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    /// A receiver URL kpid cannot post to.
    #[error("remote write url {url}: {reason}")]
    Url {
        /// The URL, credentials removed.
        url: String,
        /// What is wrong.
        reason: String,
    },
    /// An out-of-range `[remote_write]` setting.
    #[error("[remote_write] {field}: {reason}")]
    Setting {
        /// The field.
        field: &'static str,
        /// The allowed range.
        reason: String,
    },
    /// A header name or value HTTP does not allow (the value is not repeated).
    #[error("[remote_write] headers: invalid header `{0}`")]
    Header(String),
    /// An external label name Prometheus does not allow.
    #[error("[remote_write] external_labels: invalid label name `{0}` (use [a-z_][a-z0-9_]*)")]
    Label(String),
}

/// Renders a snapshot as the Prometheus text exposition (what `/metrics` serves).
pub type Render = Arc<dyn Fn(&Snapshot, &mut String) + Send + Sync>;

/// The configured receivers, ready to start.
pub struct RemoteWrite {
    senders: Vec<sender::Sender>,
    section: Arc<section::Section>,
    wait: Duration,
}

impl std::fmt::Debug for RemoteWrite {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let urls: Vec<&str> = self
            .senders
            .iter()
            .map(|s| s.target.shown.as_str())
            .collect();
        f.debug_struct("RemoteWrite").field("urls", &urls).finish()
    }
}

impl RemoteWrite {
    /// Checks the settings; `None` when no URL is given.
    pub fn new(cfg: &RemoteWriteConfig) -> Result<Option<Self>, ExportError> {
        if cfg.url.is_empty() {
            return Ok(None);
        }
        let external = cfg.checked()?;
        let headers = cfg
            .headers
            .iter()
            .map(|(k, v)| {
                let name = hyper::header::HeaderName::from_bytes(k.as_bytes());
                let mut value = hyper::header::HeaderValue::from_str(v);
                if let Ok(v) = &mut value {
                    v.set_sensitive(true);
                }
                match (name, value) {
                    (Ok(n), Ok(v)) => Ok((n, v)),
                    _ => Err(ExportError::Header(k.clone())),
                }
            })
            .collect::<Result<Vec<_>, _>>()?;
        let mut senders = Vec::new();
        let mut stats = Vec::new();
        for url in &cfg.url {
            let target = Target::parse(url)?;
            let s = Arc::new(section::Stats::default());
            stats.push((target.shown.clone(), s.clone()));
            senders.push(sender::Sender {
                target,
                headers: headers.clone(),
                external: external.clone(),
                interval: cfg.interval.0,
                timeout: cfg.timeout.0,
                max_samples: cfg.max_samples_per_send,
                queue: queue::Queue::new(cfg.queue, queue::MAX_QUEUE_BYTES),
                stats: s,
                last: None,
                text: String::new(),
            });
        }
        Ok(Some(RemoteWrite {
            senders,
            section: Arc::new(section::Section(stats)),
            // The last collection's requests (one timeout each) within the flush's timeout.
            wait: cfg.timeout.0 * 2 + Duration::from_secs(1),
        }))
    }

    /// The `remote_write` part of `/api/health` and `/metrics`.
    pub fn section(&self) -> Arc<dyn HealthSection> {
        self.section.clone()
    }

    /// Starts one task per receiver (in the current tokio runtime); `render` turns a
    /// snapshot into the exposition to send.
    pub fn spawn(self, published: Published, render: Render) -> Handle {
        let done = self
            .senders
            .into_iter()
            .map(|s| {
                let (tx, rx) = std::sync::mpsc::channel::<()>();
                let (p, r) = (published.clone(), render.clone());
                tokio::spawn(async move {
                    s.run(p, r).await;
                    let _ = tx.send(());
                });
                rx
            })
            .collect();
        Handle {
            done,
            wait: self.wait,
        }
    }
}

/// The running receivers' tasks.
#[derive(Debug)]
pub struct Handle {
    done: Vec<std::sync::mpsc::Receiver<()>>,
    wait: Duration,
}

impl Handle {
    /// Once the engine has stopped: blocks until every receiver has sent its last batches, or
    /// gave up on them (at most twice the timeout).
    pub fn wait(self) {
        let deadline = std::time::Instant::now() + self.wait;
        for rx in self.done {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            let _ = rx.recv_timeout(left);
        }
    }
}

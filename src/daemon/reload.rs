//! Live config reload: the config file is re-read when it changes (watched through its
//! directory, `watch`) or on SIGHUP, checked as `kpid check` checks it ([`prepare`]), and
//! applied without a restart: new rules and parsers go to the engine through its input
//! channel (it stays the only writer; the store, its counters and histories are kept), the
//! tailer follows added sources and stops removed ones, and the alerts keep the instances of
//! unchanged rules. Keys that only take effect at start are reported as needing a restart and
//! keep their running values. An invalid file is refused with its reason (file, line, field)
//! and the config in force stays: both show in `/api/health` → `config`.

use super::prepare::{effective, prepare, restart_keys, Prepared};
use crate::alerts::Alerts;
use crate::config::Config;
use crate::engine::Reconfigure;
use crate::health::{HealthSection, Status};
use crate::plugin_host::PluginHost;
use crate::server::dashboard::Dashboard;
use crate::sources::tail::{TailControl, TailSource};
use crate::sources::Input;
use parking_lot::Mutex;
use serde_json::{json, Value};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;

/// Where the daemon's config comes from, so that it can be read again.
#[derive(Clone)]
pub struct ConfigSource {
    /// The config file (watched through its directory).
    pub path: PathBuf,
    /// Reads it again, merged with the command line as at start.
    pub load: Arc<dyn Fn() -> anyhow::Result<Config> + Send + Sync>,
}

impl std::fmt::Debug for ConfigSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConfigSource")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

/// The result of the last reload, as `/api/health` shows it.
#[derive(Debug, Default, Clone, serde::Serialize)]
struct Last {
    at: f64,
    result: &'static str,
    error: Option<String>,
    needs_restart: Vec<&'static str>,
    changed: Vec<String>,
}

/// Reloads the daemon's config; the `config` health section.
pub struct Reloader {
    source: ConfigSource,
    current: Mutex<Config>,
    input: mpsc::Sender<Input>,
    tail: TailControl,
    alerts: Arc<Alerts>,
    plugins: Arc<PluginHost>,
    dashboard: Arc<Dashboard>,
    loaded_at: Mutex<f64>,
    last: Mutex<Option<Last>>,
    ok: AtomicU64,
    failed: AtomicU64,
    /// One reload at a time.
    busy: tokio::sync::Mutex<()>,
}

impl std::fmt::Debug for Reloader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reloader")
            .field("source", &self.source)
            .finish_non_exhaustive()
    }
}

impl Reloader {
    /// A reloader for the daemon started with `running`.
    pub fn new(
        source: ConfigSource,
        running: Config,
        input: mpsc::Sender<Input>,
        tail: TailControl,
        alerts: Arc<Alerts>,
        plugins: Arc<PluginHost>,
        dashboard: Arc<Dashboard>,
    ) -> Arc<Reloader> {
        Arc::new(Reloader {
            source,
            current: Mutex::new(running),
            input,
            tail,
            alerts,
            plugins,
            dashboard,
            loaded_at: Mutex::new(crate::kpi::now()),
            last: Mutex::new(None),
            ok: AtomicU64::new(0),
            failed: AtomicU64::new(0),
            busy: tokio::sync::Mutex::new(()),
        })
    }

    /// The config file.
    pub fn path(&self) -> &std::path::Path {
        &self.source.path
    }

    /// Reads the file again and applies what changed; refuses an invalid file.
    pub async fn reload(self: &Arc<Self>, why: &str) {
        let _one = self.busy.lock().await;
        let me = self.clone();
        let outcome = tokio::task::spawn_blocking(move || me.check())
            .await
            .map_err(|e| anyhow::anyhow!("reload task failed: {e}"))
            .and_then(|r| r);
        let last = match outcome {
            Err(e) => {
                let msg = format!("{e:#}");
                tracing::error!("config reload ({why}) refused, the running config stays: {msg}");
                self.failed.fetch_add(1, Relaxed);
                Last {
                    result: "refused",
                    error: Some(msg),
                    ..Last::default()
                }
            }
            Ok((cfg, prepared, needs_restart)) => self.apply(cfg, prepared, needs_restart).await,
        };
        *self.last.lock() = Some(Last {
            at: crate::kpi::now(),
            ..last
        });
    }

    /// Loads and checks the file: the config to apply, compiled, and the keys left for a
    /// restart.
    fn check(&self) -> anyhow::Result<(Config, Prepared, Vec<&'static str>)> {
        let new = (self.source.load)()?;
        let running = self.current.lock().clone();
        let needs_restart = restart_keys(&running, &new);
        let cfg = effective(&running, new);
        let prepared = prepare(&cfg, &self.plugins)?;
        Ok((cfg, prepared, needs_restart))
    }

    async fn apply(
        &self,
        cfg: Config,
        prepared: Prepared,
        needs_restart: Vec<&'static str>,
    ) -> Last {
        let running = self.current.lock().clone();
        let dbg = |x: &dyn std::fmt::Debug| format!("{x:?}");
        let mut changed = Vec::new();
        let src = |c: &Config| -> Vec<(String, String)> {
            c.sources
                .iter()
                .map(|s| (s.label().into_owned(), dbg(s)))
                .collect()
        };
        let (old_src, new_src) = (src(&running), src(&cfg));
        let removed: Vec<Arc<str>> = old_src
            .iter()
            .filter(|(n, _)| !new_src.iter().any(|(m, _)| m == n))
            .map(|(n, _)| Arc::from(n.as_str()))
            .collect();
        let fresh: Vec<&String> = new_src
            .iter()
            .filter(|s| !old_src.contains(s))
            .map(|(n, _)| n)
            .collect();
        if !removed.is_empty() || !fresh.is_empty() {
            changed.push(format!(
                "sources: {} added or changed, {} removed",
                fresh.len(),
                removed.len()
            ));
        }
        if dbg(&running.rules) != dbg(&cfg.rules) || running.auto_gauges != cfg.auto_gauges {
            changed.push(format!("rules: {}", cfg.rules.len()));
        }
        let mut parsers = prepared.parsers;
        parsers.retain(|name, _| fresh.iter().any(|f| f.as_str() == &**name));
        let (done, applied) = tokio::sync::oneshot::channel();
        let r = Reconfigure {
            rules: prepared.rules,
            parsers,
            removed,
            done: Some(done),
        };
        if self
            .input
            .send(Input::Reconfigure(Box::new(r)))
            .await
            .is_err()
        {
            self.failed.fetch_add(1, Relaxed);
            return Last {
                result: "refused",
                error: Some("the engine has stopped".into()),
                ..Last::default()
            };
        }
        let _ = tokio::time::timeout(Duration::from_secs(10), applied).await;
        self.tail.set_sources(
            cfg.sources
                .iter()
                .map(|s| TailSource {
                    name: Arc::from(s.label()),
                    pattern: s.path.clone(),
                })
                .collect(),
        );
        match self
            .alerts
            .reload(&cfg.alerts, cfg.alert_rules.clone(), cfg.notify.clone())
        {
            Ok(c) if c.rules_added + c.rules_removed + c.channels_started + c.channels_stopped > 0 => {
                changed.push(format!(
                    "alerts: {} kept, {} added, {} removed; channels: {} kept, {} started, {} stopped",
                    c.rules_kept, c.rules_added, c.rules_removed, c.channels_kept, c.channels_started, c.channels_stopped
                ))
            }
            Ok(_) => {}
            Err(e) => tracing::error!("alerts not reloaded: {e}"), // validated in `prepare`
        }
        if self.dashboard.set(cfg.dashboard.clone()) {
            changed.push(format!("dashboard: {} panels", cfg.dashboard.panels.len()));
        }
        if !needs_restart.is_empty() {
            tracing::warn!(
                "config reload: {} changed and needs a restart; the rest is applied",
                needs_restart.join(", ")
            );
        }
        tracing::info!(
            "config reloaded from {}: {}",
            self.source.path.display(),
            if changed.is_empty() {
                "nothing changed".to_owned()
            } else {
                changed.join("; ")
            }
        );
        *self.current.lock() = cfg;
        *self.loaded_at.lock() = crate::kpi::now();
        self.ok.fetch_add(1, Relaxed);
        Last {
            result: if needs_restart.is_empty() {
                "ok"
            } else {
                "partial"
            },
            needs_restart,
            changed,
            ..Last::default()
        }
    }
}

impl HealthSection for Reloader {
    fn name(&self) -> &'static str {
        "config"
    }

    fn snapshot(&self) -> Value {
        let last = self.last.lock().clone();
        json!({
            "path": self.source.path,
            "loaded_at": *self.loaded_at.lock(),
            "reloads_ok": self.ok.load(Relaxed),
            "reloads_failed": self.failed.load(Relaxed),
            "last_reload": last,
            "error": last.as_ref().and_then(|l| l.error.clone()),
            "needs_restart": last.map(|l| l.needs_restart).unwrap_or_default(),
        })
    }

    /// A refused reload is a warning until a reload succeeds.
    fn status(&self) -> Status {
        match &*self.last.lock() {
            Some(l) if l.error.is_some() => Status::Warn,
            _ => Status::Ok,
        }
    }

    fn prometheus(&self, out: &mut String) {
        use std::fmt::Write;
        let _ = writeln!(
            out,
            "# HELP kpid_config_reloads_total config reloads by result\n# TYPE kpid_config_reloads_total counter\nkpid_config_reloads_total{{result=\"ok\"}} {}\nkpid_config_reloads_total{{result=\"failed\"}} {}",
            self.ok.load(Relaxed),
            self.failed.load(Relaxed)
        );
    }
}

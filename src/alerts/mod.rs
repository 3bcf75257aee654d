//! Alerts: rules evaluated every `[alerts] interval` on the snapshot the engine published
//! (a reader: the store is never locked), alert instances and their states, the pipeline's
//! health (OK / WARNING / CRITICAL per KPI, per source and overall), acknowledgements,
//! silences and notification channels. See docs/alerts.md.

pub mod eval;
pub mod notify;
pub mod payload;
pub mod recent;
mod reload;
pub mod rules;
mod section;
pub mod values;

pub use rules::{AlertRule, AlertsSettings, NotifyConfig};
pub use section::PipelineSection;

use crate::engine::Published;
use eval::{Evaluator, Instance, State};
use parking_lot::Mutex;
use payload::Labels;
use serde::{Deserialize, Serialize};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

/// A silence: alerts whose labels carry every matcher are not notified until it expires.
#[derive(Debug, Clone, Serialize)]
pub struct Silence {
    /// Id.
    pub id: u64,
    /// Labels an alert must carry.
    pub matchers: Labels,
    /// When it expires, Unix seconds.
    pub expires_at: f64,
    /// Why.
    pub comment: String,
}

/// What `POST /api/alerts/silences` takes.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SilenceRequest {
    /// Labels an alert must carry (at least one).
    pub matchers: Labels,
    /// How long it lasts, e.g. `"30m"`.
    pub duration: String,
    /// Why.
    #[serde(default)]
    pub comment: String,
}

/// Evaluation counters.
#[derive(Debug, Default)]
pub struct EvalStats {
    /// Evaluations run.
    pub evaluations: AtomicU64,
    /// Time spent evaluating, nanoseconds.
    pub eval_ns: AtomicU64,
    /// Notifications held back by a silence.
    pub silenced: AtomicU64,
    /// State changes that notified.
    pub notified: AtomicU64,
}

/// The alerting subsystem, shared by its evaluation task, its channels and the server.
pub struct Alerts {
    eval: Mutex<Evaluator>,
    silences: Mutex<Vec<Silence>>,
    next_silence: AtomicU64,
    /// The channels, with the table each was started from (a reload keeps those unchanged).
    channels: parking_lot::RwLock<Vec<(NotifyConfig, Arc<notify::Channel>)>>,
    /// Counters.
    pub stats: EvalStats,
    /// kpid's address (set once the server is bound).
    pub external_url: Arc<OnceLock<String>>,
    /// Time between evaluations, milliseconds (a reload may change it).
    interval_ms: AtomicU64,
    /// Whether an alert (by fingerprint) was acknowledged: what channels ask before a repeat.
    acked: Arc<dyn Fn(&str) -> bool + Send + Sync>,
    /// The snapshot last evaluated (thresholds per KPI id are resolved against it).
    last: Mutex<Option<Arc<crate::kpi::Snapshot>>>,
}

impl std::fmt::Debug for Alerts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Alerts")
            .field("interval_ms", &self.interval_ms)
            .finish_non_exhaustive()
    }
}

impl Alerts {
    /// Builds the subsystem and starts its channels (inside a tokio runtime). Evaluation
    /// starts with [`Alerts::run`].
    pub fn new(
        settings: &AlertsSettings,
        rules: Vec<AlertRule>,
        channels: Vec<NotifyConfig>,
    ) -> Result<Arc<Alerts>, rules::RuleError> {
        rules::validate(&rules, &channels)?;
        let url = Arc::new(OnceLock::new());
        if let Some(u) = &settings.external_url {
            let _ = url.set(u.trim_end_matches('/').to_owned());
        }
        Ok(Arc::new_cyclic(|weak: &std::sync::Weak<Alerts>| {
            let acked = {
                let weak = weak.clone();
                Arc::new(move |fp: &str| weak.upgrade().is_some_and(|a| a.is_acked(fp)))
                    as Arc<dyn Fn(&str) -> bool + Send + Sync>
            };
            Alerts {
                eval: Mutex::new(Evaluator::new(
                    rules,
                    settings.max_instances,
                    crate::kpi::now(),
                )),
                silences: Mutex::new(Vec::new()),
                next_silence: AtomicU64::new(1),
                channels: parking_lot::RwLock::new(
                    channels
                        .into_iter()
                        .map(|c| {
                            let ch = notify::spawn(c.clone(), url.clone(), acked.clone());
                            (c, Arc::new(ch))
                        })
                        .collect(),
                ),
                stats: EvalStats::default(),
                external_url: url,
                interval_ms: AtomicU64::new(interval_ms(settings)),
                acked,
                last: Mutex::new(None),
            }
        }))
    }

    /// Evaluates each snapshot the engine publishes (at most once per 100 ms), and at least
    /// once per interval (for `for`, `keep_firing_for` and no-data, which age without new
    /// data), until the engine stops. Evaluating on publication keeps the time from a line to
    /// its notification within one publication interval, not one publication plus one tick.
    pub async fn run(self: Arc<Self>, mut published: Published) {
        let mut last = tokio::time::Instant::now();
        loop {
            let interval = self.interval();
            let min_gap = Duration::from_millis(100).min(interval);
            tokio::select! {
                r = published.changed() => {
                    if r.is_err() {
                        return; // the engine stopped
                    }
                    let since = last.elapsed();
                    if since < min_gap {
                        tokio::time::sleep(min_gap - since).await;
                    }
                }
                _ = tokio::time::sleep_until(last + interval) => {}
            }
            let snap = published.borrow_and_update().clone();
            self.evaluate(&snap, crate::kpi::now());
            *self.last.lock() = Some(snap);
            last = tokio::time::Instant::now();
        }
    }

    /// One evaluation: state changes go to every channel not silenced.
    pub fn evaluate(&self, snap: &crate::kpi::Snapshot, now: f64) {
        let t0 = Instant::now();
        let changed = self.eval.lock().eval(snap, now);
        self.dispatch(changed, now);
        self.stats.evaluations.fetch_add(1, Relaxed);
        self.stats
            .eval_ns
            .fetch_add(t0.elapsed().as_nanos() as u64, Relaxed);
    }

    /// Sends state changes to every channel, unless a silence holds them.
    fn dispatch(&self, changed: Vec<Instance>, now: f64) {
        if changed.is_empty() {
            return;
        }
        let base = self.external_url.get().cloned().unwrap_or_default();
        let mut sil = self.silences.lock();
        sil.retain(|s| s.expires_at > now);
        for i in changed {
            let a = i.am(&base, now);
            if sil.iter().any(|s| silences(s, &a.labels)) {
                self.stats.silenced.fetch_add(1, Relaxed);
                continue;
            }
            self.stats.notified.fetch_add(1, Relaxed);
            for (_, c) in self.channels.read().iter() {
                c.send(a.clone());
            }
        }
    }

    fn is_acked(&self, fp: &str) -> bool {
        self.eval
            .lock()
            .instances
            .values()
            .any(|i| i.id == fp && i.acked)
    }

    /// Acknowledges an alert by id; false when there is none.
    pub fn ack(&self, id: &str) -> bool {
        let mut e = self.eval.lock();
        let mut found = false;
        for i in e.instances.values_mut().filter(|i| i.id == id) {
            i.acked = true;
            found = true;
        }
        found
    }

    /// Adds a silence; errors name the field.
    pub fn silence(&self, r: SilenceRequest) -> Result<Silence, String> {
        if r.matchers.is_empty() {
            return Err("field `matchers`: give at least one label".into());
        }
        let d = crate::config::parse_duration(&r.duration)
            .map_err(|e| format!("field `duration`: {e}"))?;
        let s = Silence {
            id: self.next_silence.fetch_add(1, Relaxed),
            matchers: r.matchers,
            expires_at: crate::kpi::now() + d.as_secs_f64(),
            comment: r.comment,
        };
        let mut v = self.silences.lock();
        if v.len() >= 1000 {
            return Err("too many silences (1000)".into());
        }
        v.push(s.clone());
        Ok(s)
    }

    /// Ends a silence now; false when there is none.
    pub fn unsilence(&self, id: u64) -> bool {
        let mut v = self.silences.lock();
        let n = v.len();
        v.retain(|s| s.id != id);
        v.len() != n
    }

    /// Silences still in force.
    pub fn silences(&self) -> Vec<Silence> {
        let now = crate::kpi::now();
        self.silences
            .lock()
            .iter()
            .filter(|s| s.expires_at > now)
            .cloned()
            .collect()
    }

    /// Instances pending, firing or without data, with whether a silence holds them.
    pub fn active(&self) -> serde_json::Value {
        let sil = self.silences();
        let e = self.eval.lock();
        let v: Vec<serde_json::Value> = e
            .instances
            .values()
            .filter(|i| matches!(i.state, State::Pending | State::Firing | State::Nodata))
            .map(|i| {
                let mut j = serde_json::to_value(i).unwrap_or_default();
                j["silenced"] = sil.iter().any(|s| silences(s, &i.labels)).into();
                j
            })
            .collect();
        let recent = e.recent.last(recent::MAX_RECENT);
        serde_json::json!({ "alerts": v, "silences": sil, "recent": recent })
    }

    /// The rules with how many instances each has per state.
    pub fn rules(&self) -> serde_json::Value {
        let e = self.eval.lock();
        let d = |x: &Option<crate::config::Dur>| x.map(|d| d.0.as_secs_f64());
        let v: Vec<serde_json::Value> = e
            .rules
            .iter()
            .enumerate()
            .map(|(ri, r)| {
                let mut states = std::collections::BTreeMap::<&str, u64>::new();
                for ((k, _), i) in &e.instances {
                    if *k == ri {
                        let s = serde_json::to_value(i.state).unwrap_or_default();
                        let s: &str = match s.as_str() {
                            Some("pending") => "pending",
                            Some("firing") => "firing",
                            Some("nodata") => "nodata",
                            Some("resolved") => "resolved",
                            _ => "inactive",
                        };
                        *states.entry(s).or_default() += 1;
                    }
                }
                serde_json::json!({
                    "name": r.name, "kpi": r.kpi, "selector": r.selector,
                    "value": r.value, "over_s": d(&r.over), "ratio_of": r.ratio_of,
                    "warn": r.warn, "crit": r.crit, "clear": r.clear, "above": r.above,
                    "for_s": d(&r.for_), "keep_firing_for_s": d(&r.keep_firing_for),
                    "no_data_s": d(&r.no_data), "labels": r.labels,
                    "annotations": r.annotations, "instances": states,
                })
            })
            .collect();
        serde_json::json!({ "rules": v, "interval_s": self.interval().as_secs_f64() })
    }

    /// Sends every state change from now on to history as well.
    pub fn store_in(&self, sink: crate::history::events::EventSink) {
        self.eval.lock().recent.store_in(sink);
    }

    /// The state changes from `from` to `to` still held in memory (the last
    /// [`recent::MAX_RECENT`]), oldest first.
    pub fn recent_between(&self, from: f64, to: f64) -> Vec<recent::Transition> {
        self.eval.lock().recent.between(from, to)
    }

    /// Time between evaluations.
    pub fn interval(&self) -> Duration {
        Duration::from_millis(self.interval_ms.load(Relaxed))
    }

    fn instances(&self) -> Vec<Instance> {
        self.eval.lock().instances.values().cloned().collect()
    }
}

fn interval_ms(s: &AlertsSettings) -> u64 {
    s.interval.0.max(Duration::from_millis(100)).as_millis() as u64
}

fn silences(s: &Silence, labels: &Labels) -> bool {
    s.matchers.iter().all(|(k, v)| labels.get(k) == Some(v))
}

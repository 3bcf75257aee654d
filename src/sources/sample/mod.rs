//! Samplers: the machine beside the pipeline. A thread of its own (never an async worker)
//! wakes every interval, asks each `Sampler` for its figures and sends them as one
//! [`SampleBatch`] down the same bounded channel as lines and app records, into the engine.
//!
//! - `host`: CPU (total and per core), load, memory and swap, disks (usage per mount, I/O
//!   per device), network per interface, pressure stall information and the cgroup's limits;
//! - `procs`: the pipeline's processes (by pid, by name pattern, or the tree under a root
//!   pid), refreshed by pid every tick, the whole process table rescanned rarely;
//! - `gpu`: NVIDIA GPUs through NVML, and the pipeline's processes on them.
//!
//! A series is an `Arc<SampleSeries>` the sampler keeps while it reports it, so the engine
//! resolves each one once. Each sampler reports its own health (last tick's duration, what
//! is unavailable and why) in `/api/health` → `samplers`.

mod gpu;
mod host;
mod linux;
mod proc_stat;
mod procs;

pub use procs::ProcSelect;

use crate::health::{HealthSection, Status};
use crate::sources::Input;
use parking_lot::Mutex;
use rustc_hash::FxHashMap;
use serde::Serialize;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// What a series measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SampleKind {
    /// A level (set).
    Gauge,
    /// A running total (increments).
    Counter,
}

/// One series a sampler reports: its name, labels, kind, unit and help.
#[derive(Debug)]
pub struct SampleSeries {
    /// Metric name.
    pub name: &'static str,
    /// Labels.
    pub labels: Vec<(&'static str, String)>,
    /// Gauge or counter.
    pub kind: SampleKind,
    /// Unit (`bytes`, `s`, `ratio`...).
    pub unit: &'static str,
    /// Help text.
    pub help: &'static str,
}

/// A value of a series: the level of a gauge, the increment of a counter.
#[derive(Debug, Clone)]
pub struct Sample {
    /// The series.
    pub series: Arc<SampleSeries>,
    /// Value.
    pub value: f64,
}

/// What one tick of the samplers found.
#[derive(Debug, Default)]
pub struct SampleBatch {
    /// Samples.
    pub samples: Vec<Sample>,
}

/// The series a sampler has reported, so each is one `Arc` for as long as it lives.
#[derive(Debug, Default)]
pub(crate) struct Registry {
    map: FxHashMap<String, (Arc<SampleSeries>, u64)>,
    key: String,
    tick: u64,
}

/// Most series one sampler keeps.
const MAX_SERIES: usize = 4096;

impl Registry {
    /// The series `name{labels}`, made on first use.
    pub(crate) fn get(
        &mut self,
        name: &'static str,
        labels: &[(&'static str, &str)],
        kind: SampleKind,
        unit: &'static str,
        help: &'static str,
    ) -> Option<Arc<SampleSeries>> {
        self.key.clear();
        self.key.push_str(name);
        for (k, v) in labels {
            self.key.push('\u{0}');
            self.key.push_str(k);
            self.key.push('=');
            self.key.push_str(v);
        }
        if let Some((s, seen)) = self.map.get_mut(self.key.as_str()) {
            *seen = self.tick;
            return Some(s.clone());
        }
        if self.map.len() >= MAX_SERIES {
            return None;
        }
        let s = Arc::new(SampleSeries {
            name,
            labels: labels.iter().map(|(k, v)| (*k, (*v).to_owned())).collect(),
            kind,
            unit,
            help,
        });
        self.map.insert(self.key.clone(), (s.clone(), self.tick));
        Some(s)
    }

    /// Forgets series not reported for a minute of ticks (exited processes, removed disks).
    fn end_tick(&mut self) {
        self.tick += 1;
        if self.tick % 64 == 0 {
            let t = self.tick;
            self.map.retain(|_, (_, seen)| t - *seen < 64);
        }
    }
}

/// Where a sampler writes its figures.
pub(crate) struct Out<'a> {
    reg: &'a mut Registry,
    batch: &'a mut Vec<Sample>,
}

impl Out<'_> {
    /// A gauge value.
    pub(crate) fn gauge(
        &mut self,
        name: &'static str,
        labels: &[(&'static str, &str)],
        unit: &'static str,
        help: &'static str,
        value: f64,
    ) {
        if let Some(series) = self.reg.get(name, labels, SampleKind::Gauge, unit, help) {
            self.batch.push(Sample { series, value });
        }
    }

    /// A counter increment (0 is sent too, so the series exists from the first tick).
    pub(crate) fn counter(
        &mut self,
        name: &'static str,
        labels: &[(&'static str, &str)],
        unit: &'static str,
        help: &'static str,
        increment: f64,
    ) {
        if let Some(series) = self.reg.get(name, labels, SampleKind::Counter, unit, help) {
            self.batch.push(Sample {
                series,
                value: increment.max(0.0),
            });
        }
    }
}

/// A source of samples. `sample` runs on the samplers' thread, once per interval.
pub(crate) trait Sampler: Send {
    /// Its name in health (`host`, `procs`, `gpu`).
    fn name(&self) -> &'static str;
    /// Writes this tick's figures.
    fn sample(&mut self, out: &mut Out<'_>);
    /// What it cannot measure here, and why (shown once, in health).
    fn unavailable(&self) -> Vec<String> {
        Vec::new()
    }
}

/// Settings of the samplers (`[sample]`).
#[derive(Debug, Clone)]
pub struct SampleConfig {
    /// Time between ticks.
    pub interval: Duration,
    /// Sample the host.
    pub host: bool,
    /// Which processes to follow.
    pub procs: ProcSelect,
    /// Sample NVIDIA GPUs.
    pub gpu: bool,
    /// `libnvidia-ml` to open (`None`: the system's, `libnvidia-ml.so.1`).
    pub nvml_library: Option<std::ffi::OsString>,
}

/// One sampler's health.
#[derive(Debug, Clone, Default, Serialize)]
pub struct SamplerHealth {
    /// Name.
    pub name: &'static str,
    /// Ticks so far.
    pub ticks: u64,
    /// Last tick's duration, microseconds.
    pub last_tick_us: u64,
    /// Slowest tick, microseconds.
    pub max_tick_us: u64,
    /// CPU time of the last tick, microseconds (what it cost, whatever else ran).
    pub last_tick_cpu_us: u64,
    /// CPU time of all ticks so far, microseconds.
    pub total_cpu_us: u64,
    /// Series reported by the last tick.
    pub series: usize,
    /// What it cannot measure here, and why.
    pub unavailable: Vec<String>,
}

/// Health of all samplers (`/api/health` → `samplers`).
#[derive(Debug, Default)]
pub struct SamplersHealth {
    /// Interval.
    pub interval_ms: Mutex<u64>,
    /// Per sampler.
    pub samplers: Mutex<Vec<SamplerHealth>>,
    /// Ticks skipped because the engine was busy (the batch waited instead).
    pub late_ticks: std::sync::atomic::AtomicU64,
}

impl HealthSection for SamplersHealth {
    fn name(&self) -> &'static str {
        "samplers"
    }

    fn snapshot(&self) -> serde_json::Value {
        serde_json::json!({
            "interval_ms": *self.interval_ms.lock(),
            "late_ticks": self.late_ticks.load(std::sync::atomic::Ordering::Relaxed),
            "samplers": *self.samplers.lock(),
        })
    }

    fn status(&self) -> Status {
        Status::Ok
    }
}

/// The running samplers; dropping the handle stops the thread.
#[derive(Debug)]
pub struct SamplerHandle {
    stop: Arc<(Mutex<bool>, parking_lot::Condvar)>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Drop for SamplerHandle {
    fn drop(&mut self) {
        *self.stop.0.lock() = true;
        self.stop.1.notify_all();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Starts the samplers' thread. Its batches wait for room in the channel (a busy engine
/// delays a tick, counted as late, and never loses one).
pub fn spawn(
    cfg: SampleConfig,
    tx: tokio::sync::mpsc::Sender<Input>,
    health: Arc<SamplersHealth>,
) -> std::io::Result<SamplerHandle> {
    let mut samplers: Vec<Box<dyn Sampler>> = Vec::new();
    if cfg.host {
        samplers.push(Box::new(host::Host::new()));
    }
    let followed = Arc::new(Mutex::new(Vec::new()));
    if !cfg.procs.is_empty() {
        samplers.push(Box::new(procs::Procs::new(
            cfg.procs.clone(),
            followed.clone(),
        )));
    }
    if cfg.gpu {
        let followed = (!cfg.procs.is_empty()).then_some(followed);
        samplers.push(Box::new(gpu::Gpu::new(cfg.nvml_library.clone(), followed)));
    }
    *health.interval_ms.lock() = cfg.interval.as_millis() as u64;
    let stop = Arc::new((Mutex::new(false), parking_lot::Condvar::new()));
    let stop2 = stop.clone();
    let thread = std::thread::Builder::new()
        .name("kpid-sampler".into())
        .spawn(move || run(cfg.interval, samplers, tx, health, stop2))?;
    Ok(SamplerHandle {
        stop,
        thread: Some(thread),
    })
}

fn run(
    interval: Duration,
    mut samplers: Vec<Box<dyn Sampler>>,
    tx: tokio::sync::mpsc::Sender<Input>,
    health: Arc<SamplersHealth>,
    stop: Arc<(Mutex<bool>, parking_lot::Condvar)>,
) {
    let mut regs: Vec<Registry> = samplers.iter().map(|_| Registry::default()).collect();
    let mut next = Instant::now();
    loop {
        let mut batch = Vec::new();
        let mut hs = Vec::with_capacity(samplers.len());
        for (s, reg) in samplers.iter_mut().zip(regs.iter_mut()) {
            let t0 = Instant::now();
            let c0 = proc_stat::thread_cpu_us();
            let before = batch.len();
            s.sample(&mut Out {
                reg,
                batch: &mut batch,
            });
            reg.end_tick();
            let us = t0.elapsed().as_micros() as u64;
            let cpu = proc_stat::thread_cpu_us().saturating_sub(c0);
            hs.push((s.name(), us, cpu, batch.len() - before, s.unavailable()));
        }
        {
            let mut h = health.samplers.lock();
            h.resize_with(hs.len(), SamplerHealth::default);
            for (slot, (name, us, cpu, n, unavailable)) in h.iter_mut().zip(hs) {
                slot.name = name;
                slot.ticks += 1;
                slot.last_tick_us = us;
                slot.max_tick_us = slot.max_tick_us.max(us);
                slot.last_tick_cpu_us = cpu;
                slot.total_cpu_us += cpu;
                slot.series = n;
                slot.unavailable = unavailable;
            }
        }
        if !batch.is_empty() {
            let input = Input::Samples(SampleBatch { samples: batch });
            match tx.try_send(input) {
                Ok(()) => {}
                Err(tokio::sync::mpsc::error::TrySendError::Full(input)) => {
                    health
                        .late_ticks
                        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    if tx.blocking_send(input).is_err() {
                        return;
                    }
                }
                Err(_) => return, // the engine is gone
            }
        }
        next += interval;
        let now = Instant::now();
        if next < now {
            next = now + interval; // fell behind: skip, never burst
        }
        let mut stopped = stop.0.lock();
        if *stopped {
            return;
        }
        stop.1.wait_until(&mut stopped, next);
        if *stopped {
            return;
        }
    }
}

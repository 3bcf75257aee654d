//! The engine's thread: receive inputs, apply them, publish snapshots, acknowledge offsets.

use super::apps;
use super::clock::Clock;
use super::join::{count_errors, Joins, Offer, One};
use super::rules::Rules;
use super::ship::LINES_PER_STEP;
use super::Shipment;
use crate::kpi::{self, Publisher, Snapshot, Store};
use crate::sources::socket::SocketStats;
use crate::sources::tail::{Checkpoints, FileCheckpoint};
use crate::sources::{Batch, Input, SourcesHealth};
use crate::state::counter_totals;
use kpid_parsers::{Parser, Record, TimeSpec};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;

/// Everything the engine owns.
pub struct EngineConfig {
    /// Parser of each source, by source name.
    pub parsers: HashMap<Arc<str>, Box<dyn Parser>>,
    /// Compiled rules.
    pub rules: Rules,
    /// The store (counter totals already restored).
    pub store: Store,
    /// The tailer's checkpoints, where applied offsets are acknowledged.
    pub checkpoints: Arc<Checkpoints>,
    /// How often applied offsets are acknowledged.
    pub checkpoint_interval: Duration,
    /// Least time between two publications of changes (the WebSocket interval, less a margin).
    pub publish_pace: Duration,
    /// Followed files (parse errors are counted there).
    pub health: Arc<SourcesHealth>,
    /// The socket source's counters (frames decoded here are counted there).
    pub socket: Arc<SocketStats>,
    /// The history writer, when history is on: acknowledgements go there, with the deltas
    /// they include, every checkpoint interval, instead of straight to the tailer.
    pub history: Option<super::ShipSender>,
    /// The last lines of each source, and where they are published (`None`: none kept).
    pub logs: Option<(crate::logs::LogRing, PublishedLogsSender)>,
    /// Each source's event-time setting, by source name (absent: `auto`).
    pub times: HashMap<Arc<str>, TimeSpec>,
    /// Seconds a record's own time may be ahead of the clock before its arrival time is
    /// used instead.
    pub future_skew: f64,
    /// How long a record of a source with a `start` pattern waits for its next line.
    pub record_timeout: Duration,
}

/// Where the engine publishes the recent lines of every source.
pub type PublishedLogsSender = watch::Sender<Arc<crate::logs::LogsSnapshot>>;

impl std::fmt::Debug for EngineConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EngineConfig")
            .field("sources", &self.parsers.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

/// What readers hold: the latest snapshot, and a way to wait for the next.
pub type Published = watch::Receiver<Arc<Snapshot>>;

/// Even with no change, windowed figures (rates, quantiles of the last minute) are
/// republished this often while any KPI was updated within the window.
const REFRESH: Duration = Duration::from_secs(1);
/// Most file entries kept between acknowledgements (the least recently applied go first).
const MAX_FILES: usize = 4096;

/// Splits a batch into lines without their terminator (`\n`, and a `\r` before it); a
/// trailing fragment without `\n` is a line too.
pub fn lines(data: &[u8]) -> impl Iterator<Item = &[u8]> {
    let mut rest = data;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        let (line, advance) = match memchr::memchr(b'\n', rest) {
            Some(i) => (&rest[..i], i + 1),
            None => (rest, rest.len()),
        };
        rest = &rest[advance..];
        Some(line.strip_suffix(b"\r").unwrap_or(line))
    })
}

struct Engine {
    cfg: EngineConfig,
    publisher: Publisher,
    app_counts: apps::Counts,
    otlp: super::otlp::Otlp,
    samples: super::samples::SampleCache,
    rec: Record<'static>,
    fallback: Option<Box<dyn Parser>>,
    applied: HashMap<(u64, u64), (FileCheckpoint, u64)>,
    applied_seq: u64,
    unacked: bool,
    /// A shipment the history writer had no room for yet.
    held: Option<Shipment>,
    tx: watch::Sender<Arc<Snapshot>>,
    /// Records of sources with a `start` pattern, being gathered.
    joins: Joins,
}

/// The running engine.
#[derive(Debug)]
pub struct EngineHandle {
    thread: std::thread::JoinHandle<()>,
    stop: watch::Sender<bool>,
}

impl EngineHandle {
    /// Closes the input channel (sources can send nothing more), applies what is already in
    /// it, publishes and acknowledges a last time, and waits for the thread to end. Stop the
    /// sources first: what they sent before is applied.
    pub fn stop(self) {
        let _ = self.stop.send(true);
        let _ = self.thread.join();
    }
}

/// Starts the engine on its own thread. It ends when stopped ([`EngineHandle::stop`]) or when
/// every sender of `rx` is gone, after a last publication and acknowledgement.
pub fn spawn(
    cfg: EngineConfig,
    rx: mpsc::Receiver<Input>,
) -> std::io::Result<(EngineHandle, Published)> {
    let store_cfg_timeout = cfg.record_timeout;
    let mut store_cfg = cfg;
    if store_cfg.history.is_some() {
        store_cfg.store.ship_to_history();
    }
    let mut publisher = Publisher::default();
    let first = publisher.publish(&mut store_cfg.store, kpi::now(), true);
    let (tx, published) = watch::channel(first);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()?;
    let engine = Engine {
        cfg: store_cfg,
        publisher,
        app_counts: apps::Counts::default(),
        otlp: Default::default(),
        samples: Default::default(),
        rec: Record::new(),
        fallback: None,
        applied: HashMap::new(),
        applied_seq: 0,
        unacked: false,
        held: None,
        tx,
        joins: Joins::new(store_cfg_timeout),
    };
    let (stop, stop_rx) = watch::channel(false);
    let thread = std::thread::Builder::new()
        .name("kpid-engine".into())
        .spawn(move || rt.block_on(engine.run(rx, stop_rx)))?;
    Ok((EngineHandle { thread, stop }, published))
}

impl Engine {
    async fn run(mut self, mut rx: mpsc::Receiver<Input>, mut stop: watch::Receiver<bool>) {
        let pace = self.cfg.publish_pace;
        self.cfg.rules.declare(&mut self.cfg.store, kpi::now());
        let mut last_publish = Instant::now();
        let mut next_refresh = last_publish + REFRESH;
        let mut last_ack = last_publish;
        let mut dirty = false;
        // Nothing has come in yet: no refresh is due until something does.
        let window = Duration::from_secs(kpi::SUMMARY_WINDOW_S as u64 + 2);
        let mut last_input: Option<Instant> = None;
        loop {
            // Idle (nothing within the window, nothing pending): sleep until an input comes.
            let far = Instant::now() + Duration::from_secs(3600);
            let recent = last_input.is_some_and(|t| t.elapsed() < window);
            let mut deadline = if recent { next_refresh } else { far };
            if dirty {
                deadline = deadline.min(last_publish + pace);
            }
            if self.unacked || self.cfg.store.has_deltas() {
                deadline = deadline.min(last_ack + self.cfg.checkpoint_interval);
            }
            if let Some(due) = self.joins.due() {
                deadline = deadline.min(due);
            }
            tokio::select! {
                biased;
                input = rx.recv() => {
                    let Some(input) = input else { break };
                    let mut shipped = self.apply_shipping(input).await;
                    // Take what else is queued before publishing: one publication per burst.
                    for _ in 0..64 {
                        match rx.try_recv() {
                            Ok(i) => shipped |= self.apply_shipping(i).await,
                            Err(_) => break,
                        }
                    }
                    dirty = true;
                    last_input = Some(Instant::now());
                    if shipped {
                        last_ack = Instant::now();
                    }
                }
                _ = stop.changed() => {
                    // Nothing more comes in; what is queued is still received, then `None`.
                    rx.close();
                }
                _ = tokio::time::sleep_until(deadline) => {}
            }
            let now = Instant::now();
            if self.joins.due().is_some_and(|d| d <= now) {
                self.joined_records(Some(now));
                dirty = true;
                last_input = Some(now);
            }
            if dirty && now >= last_publish + pace {
                self.publish(false);
                dirty = false;
                last_publish = now;
            }
            if now >= next_refresh {
                // Only while something moved within the window: an idle daemon stays idle.
                // A refresh carries no new input: it does not hold the next change back (only
                // changes are paced), so a line after a refresh still goes out at once.
                if last_input.is_some_and(|t| now.duration_since(t) < window) {
                    self.publish(true);
                    dirty = false;
                }
                next_refresh = now + REFRESH;
            }
            let due = self.unacked || self.cfg.store.has_deltas();
            if due && now >= last_ack + self.cfg.checkpoint_interval {
                self.ack();
                last_ack = now;
            }
        }
        self.joined_records(None);
        self.publish(true);
        self.ack();
        if let (Some(tx), Some(last)) = (&self.cfg.history, self.held.take()) {
            // The last shipment waits for room: at shutdown nothing may be left behind.
            let _ = tx.send(last).await;
        }
    }

    /// Applies an input, a step of at most [`LINES_PER_STEP`] lines at a time, shipping to
    /// history whenever a series' backlog is due: a replay spreads over many buckets, and is
    /// shipped rather than let pass its cap, waiting for the writer if it is behind (the
    /// sources wait meanwhile: a file is its own buffer). Returns whether it shipped.
    async fn apply_shipping(&mut self, input: Input) -> bool {
        let parts = match input {
            Input::Lines(b) if self.cfg.history.is_some() => super::ship::split(b, LINES_PER_STEP),
            other => {
                self.apply(other);
                return self.ship_if_due().await;
            }
        };
        let mut shipped = false;
        for b in parts {
            self.apply(Input::Lines(b));
            shipped |= self.ship_if_due().await;
        }
        shipped
    }

    async fn ship_if_due(&mut self) -> bool {
        if !self.cfg.store.flush_due() {
            return false;
        }
        if let (Some(tx), Some(h)) = (self.cfg.history.clone(), self.held.take()) {
            let _ = tx.send(h).await;
        }
        self.ack();
        true
    }

    fn publish(&mut self, refresh: bool) {
        let now = kpi::now();
        if let Some(t) = self.otlp.traces.publish(now) {
            self.publisher.set_traces(t);
        }
        let snap = self.publisher.publish(&mut self.cfg.store, now, refresh);
        self.tx.send_replace(snap);
        if let Some((ring, tx)) = &mut self.cfg.logs {
            if let Some(l) = ring.publish() {
                tx.send_replace(l);
            }
        }
        self.app_counts.flush(&self.cfg.socket);
        self.otlp.flush();
    }

    /// Acknowledges what was applied: to the tailer, or with history on, to the history
    /// writer with the deltas it includes (kept for the next flush if the writer is behind).
    fn ack(&mut self) {
        self.unacked = false;
        let files = self.applied_files();
        let counters = counter_totals(&self.cfg.store);
        let Some(tx) = self.cfg.history.clone() else {
            self.cfg.checkpoints.applied(&files, counters);
            return;
        };
        if let Some(h) = self.held.take() {
            if let Err(e) = tx.try_send(h) {
                // Still no room: the new deltas stay in the store (capped per series, the
                // excess counted) and go with a later shipment.
                self.held = Some(e.into_inner());
                self.unacked = true;
                return;
            }
        }
        let mut s = Shipment {
            bucket_s: self.cfg.store.limits().bucket_secs,
            at: kpi::now(),
            files,
            counters,
            ..Shipment::default()
        };
        self.cfg.store.take_deltas(&mut s.descs, &mut s.deltas);
        if let Err(e) = tx.try_send(s) {
            self.held = Some(e.into_inner());
        }
    }

    fn applied_files(&mut self) -> Vec<FileCheckpoint> {
        if self.applied.len() > MAX_FILES {
            let mut by_age: Vec<_> = self.applied.iter().map(|(k, (_, s))| (*s, *k)).collect();
            by_age.sort_unstable();
            for (_, k) in by_age.iter().take(self.applied.len() - MAX_FILES) {
                self.applied.remove(k);
            }
        }
        self.applied.values().map(|(c, _)| c.clone()).collect()
    }

    fn apply(&mut self, input: Input) {
        let now = kpi::now();
        let clock = Clock {
            now,
            skew: self.cfg.future_skew,
        };
        match input {
            Input::Lines(batch) => self.lines(batch, clock),
            Input::App(b) => apps::apply(
                &mut self.cfg.rules,
                &mut self.cfg.store,
                &mut self.rec,
                &b,
                &mut self.app_counts,
                clock,
                &mut self.otlp.traces,
            ),
            Input::Samples(b) => self.samples.apply(&mut self.cfg.store, b, now),
            Input::Otlp(b) => {
                let cfg = &mut self.cfg;
                self.otlp
                    .apply(&mut cfg.rules, &mut cfg.store, &mut self.rec, b, clock)
            }
            Input::Reconfigure(r) => {
                r.apply(&mut self.cfg.rules, &mut self.cfg.parsers);
                self.cfg.rules.declare(&mut self.cfg.store, now);
            }
        }
    }

    fn lines(&mut self, batch: Batch, clock: Clock) {
        let now = clock.now;
        let cfg = &mut self.cfg;
        let auto = TimeSpec::default();
        let spec = cfg.times.get(&batch.source).unwrap_or(&auto);
        let parser = parser_for(&mut cfg.parsers, &mut self.fallback, &batch.source);
        let mut errors = 0u64;
        let keep = cfg.logs.is_some();
        let mut metas = Vec::new();
        let all: Vec<&[u8]> = lines(&batch.data).collect();
        let info = kpid_parsers::BatchInfo {
            source: &batch.source,
            data: &batch.data,
            offset: batch.end_offset.checked_sub(batch.data.len() as u64),
        };
        parser.prepare(&info, &all);
        let base = batch.data.as_ptr() as usize;
        let file = batch.path.as_os_str().as_encoded_bytes();
        let (rules, store, rec) = (&mut cfg.rules, &mut cfg.store, &mut self.rec);
        let mut one = One::new(rules, store, &mut **parser, rec, spec, clock);
        for line in all {
            let off = line.as_ptr() as usize - base;
            // The log ring's level and time of the line (NaN: arrival time).
            let (level, t) = match one.parser.starts_record(line) {
                None => one.apply(&batch.source, line, file, &mut errors),
                Some(start) => {
                    let at = info.offset.unwrap_or(0) + off as u64;
                    match self.joins.offer(&batch, line, start, at) {
                        Offer::Joined => {
                            one.rules.joined(one.store, &batch.source, now);
                        }
                        Offer::Alone(overflow) => {
                            if overflow {
                                one.rules.join_overflow(one.store, &batch.source, now);
                            }
                            one.apply(&batch.source, line, file, &mut errors);
                        }
                        Offer::Started(Some(done)) => {
                            let mut e = 0;
                            let path = done.path.as_os_str().as_encoded_bytes();
                            one.apply(&done.source, &done.text, path, &mut e);
                            count_errors(&cfg.health, done.file, e);
                            self.joins.recycle(done.text);
                        }
                        Offer::Started(None) => {}
                    }
                    // A record's lines are applied together: the ring shows them plain.
                    (0, f64::NAN)
                }
            };
            if keep {
                metas.push(crate::logs::LineMeta {
                    off: off as u32,
                    len: line.len() as u32,
                    level,
                    ts: t,
                });
            }
        }
        cfg.rules
            .format_stats(&mut cfg.store, &batch.source, parser.format(), now);
        count_errors(&cfg.health, batch.file, errors);
        let offset = self.joins.batch_end(&batch);
        if batch.checkpoint {
            self.applied_seq += 1;
            let key = (batch.identity.dev, batch.identity.ino);
            let mut c = FileCheckpoint::after(&batch);
            c.offset = offset;
            self.applied.insert(key, (c, self.applied_seq));
            self.unacked = true;
        }
        if let Some((ring, _)) = &mut cfg.logs {
            ring.push(&batch.source, now, batch.data, metas);
        }
    }

    /// Applies the records of sources with a `start` pattern that are complete at `now`
    /// (every one with `None`: the engine stops), and moves their files' checkpoints past them.
    fn joined_records(&mut self, now: Option<Instant>) {
        let done = self.joins.take_due(now);
        if done.is_empty() {
            return;
        }
        let clock = Clock {
            now: kpi::now(),
            skew: self.cfg.future_skew,
        };
        let cfg = &mut self.cfg;
        let auto = TimeSpec::default();
        for g in done {
            let spec = cfg.times.get(&g.source).unwrap_or(&auto);
            // A source a reload removed meanwhile: its record is read as lines of an unknown
            // source are.
            let parser = parser_for(&mut cfg.parsers, &mut self.fallback, &g.source);
            let (rules, store, rec) = (&mut cfg.rules, &mut cfg.store, &mut self.rec);
            let mut one = One::new(rules, store, &mut **parser, rec, spec, clock);
            let mut errors = 0;
            one.apply(
                &g.source,
                &g.text,
                g.path.as_os_str().as_encoded_bytes(),
                &mut errors,
            );
            count_errors(&cfg.health, g.file, errors);
            if g.checkpoint {
                self.applied_seq += 1;
                let c = FileCheckpoint {
                    path: (*g.path).clone(),
                    identity: g.identity,
                    offset: g.end,
                };
                let key = (g.identity.dev, g.identity.ino);
                self.applied.insert(key, (c, self.applied_seq));
                self.unacked = true;
            }
            self.joins.recycle(g.text);
        }
    }
}

/// The parser of `source`, else (a source the config does not name) the `auto` parser.
fn parser_for<'p>(
    parsers: &'p mut HashMap<Arc<str>, Box<dyn Parser>>,
    fallback: &'p mut Option<Box<dyn Parser>>,
    source: &str,
) -> &'p mut Box<dyn Parser> {
    match parsers.get_mut(source) {
        Some(p) => p,
        None => fallback.get_or_insert_with(|| {
            kpid_parsers::builtin("auto", &Default::default()).expect("auto parser exists")
        }),
    }
}

/// The log ring's level number ([`crate::logs::LineMeta::level`]).
pub(super) fn level_number(l: Option<kpid_parsers::Level>) -> u8 {
    use kpid_parsers::Level;
    match l {
        None => 0,
        Some(Level::Trace) => 1,
        Some(Level::Debug) => 2,
        Some(Level::Info) => 3,
        Some(Level::Warn) => 4,
        Some(Level::Error) => 5,
    }
}

#[cfg(test)]
mod tests {
    use super::lines;

    #[test]
    fn splits_lines_and_strips_crlf() {
        let v: Vec<&[u8]> = lines(b"a\r\nb\n\nc\n").collect();
        assert_eq!(v, vec![&b"a"[..], b"b", b"", b"c"]);
        assert_eq!(lines(b"").count(), 0);
        assert_eq!(lines(b"x\ny").collect::<Vec<_>>(), vec![&b"x"[..], b"y"]);
    }
}

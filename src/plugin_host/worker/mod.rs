//! Plugins in a worker process: a parser whose plugin runs in `kpid plugin-worker`, so that a
//! plugin that segfaults, aborts, loops or leaks costs the line it was parsing and nothing
//! else. The protocol is in [`proto`] and docs/plugin-worker.md.
//!
//! A batch ([`Parser::prepare`]) goes to the worker in one request; the reply holds every
//! line's record, with slices of the line as offsets. When the worker dies or stays on one
//! line past the time limit, the shared page names the line it was on: that line is counted
//! (plugin, source, offset, reason) and reported as a parse error, never sent again, and the
//! batch's other lines go to a restarted worker. A plugin that fails `max_crashes` times
//! within `crash_window` is quarantined until its file changes.

mod area;
pub mod child;
pub mod decode;
mod encode;
mod keys;
mod process;
pub mod proto;
mod shm;

use super::guard::{CrashPolicy, FailureKind, Poison};
use super::load::Plugin;
use super::parser::Slot;
use super::PluginError;
use keys::Keys;
use kpid_parsers::{BatchInfo, ParseError, Parser, Record};
use process::{Failure, Process};
use std::borrow::Cow;
use std::ops::Range;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How plugins run.
#[derive(Debug, Clone, PartialEq)]
pub enum Isolation {
    /// In the daemon's process: fastest, but a plugin that crashes takes the daemon with it.
    InProcess,
    /// In a worker process each.
    Worker(WorkerSettings),
}

/// Settings of worker processes.
#[derive(Debug, Clone, PartialEq)]
pub struct WorkerSettings {
    /// The kpid binary to run as `kpid plugin-worker`.
    pub exe: PathBuf,
    /// Address-space limit of a worker, in bytes (0: none).
    pub memory_limit: u64,
    /// Longest time one line may take.
    pub line_timeout: Duration,
    /// Longest time a worker may take to load its plugin and make its parser.
    pub start_timeout: Duration,
    /// When a plugin is quarantined.
    pub policy: CrashPolicy,
}

impl Default for WorkerSettings {
    fn default() -> Self {
        WorkerSettings {
            exe: std::env::current_exe().unwrap_or_else(|_| "/proc/self/exe".into()),
            memory_limit: 512 << 20,
            line_timeout: Duration::from_secs(1),
            start_timeout: Duration::from_secs(10),
            policy: CrashPolicy {
                max_crashes: 3,
                window: Duration::from_secs(300),
            },
        }
    }
}

/// What a line of the current batch gave.
#[derive(Debug)]
enum Outcome {
    /// Its entry in `replies`.
    Entry(Range<usize>),
    /// Not parsed (a crash on it, or a quarantine).
    Failed(String),
}

/// A parser whose plugin runs in a worker process.
#[derive(Debug)]
pub struct WorkerParser {
    plugin: Arc<Plugin>,
    options: String,
    settings: WorkerSettings,
    slot: Arc<Slot>,
    worker: Option<Process>,
    /// The current batch: each line's address and length, and what it gave.
    expect: Vec<(usize, usize)>,
    outcomes: Vec<Outcome>,
    next: usize,
    replies: Vec<u8>,
    reply: Vec<u8>,
    request: Vec<u8>,
    keys: Keys,
    /// The current worker's key ids (cleared when a worker starts).
    ids: Vec<Cow<'static, [u8]>>,
}

impl WorkerParser {
    /// Starts a worker for `plugin` with `options`; a refusal of the options is an error here.
    pub(super) fn new(
        plugin: Arc<Plugin>,
        options: &str,
        settings: WorkerSettings,
    ) -> Result<WorkerParser, PluginError> {
        let mut p = WorkerParser {
            slot: plugin.slot(),
            plugin,
            options: options.to_string(),
            settings,
            worker: None,
            expect: Vec::new(),
            outcomes: Vec::new(),
            next: 0,
            replies: Vec::new(),
            reply: Vec::new(),
            request: Vec::new(),
            keys: Keys::default(),
            ids: Vec::new(),
        };
        p.worker = Some(p.start().map_err(|message| PluginError::Create {
            name: p.plugin.name().to_string(),
            message,
        })?);
        Ok(p)
    }

    fn start(&self) -> Result<Process, String> {
        let fd = self
            .plugin
            .copy_fd
            .ok_or("no in-memory copy of the plugin to hand a worker (is /proc mounted?)")?;
        Process::start(&self.settings, fd, self.plugin.name(), &self.options)
    }

    /// The worker's resident memory in bytes, when one runs.
    pub fn worker_rss(&self) -> Option<u64> {
        self.worker.as_ref().map(Process::rss)
    }

    /// Switches to the newest version of a quarantined plugin, once its file changed.
    fn follow_new_version(&mut self) {
        if let Some(newest) = self.plugin.newest() {
            tracing::info!(
                plugin = newest.name(),
                "plugin file changed: leaving quarantine"
            );
            self.slot = newest.slot();
            self.plugin = newest;
            self.worker = None;
        }
    }

    /// Parses `lines` in the worker, restarting it past every line it fails on.
    fn run(&mut self, batch: &BatchInfo<'_>, lines: &[&[u8]]) {
        let started = Instant::now();
        self.expect.clear();
        self.expect
            .extend(lines.iter().map(|l| (l.as_ptr() as usize, l.len())));
        self.outcomes.clear();
        self.replies.clear();
        self.next = 0;
        let mut pending: Vec<usize> = (0..lines.len()).collect();
        let mut unattributed = 0;
        while !pending.is_empty() {
            if self.plugin.guard.quarantined() {
                self.follow_new_version();
            }
            if self.plugin.guard.quarantined() {
                self.plugin.guard.skipped(pending.len() as u64);
                let why = format!(
                    "plugin `{}` is quarantined until its file changes",
                    self.plugin.name()
                );
                self.fill(&pending, &why);
                break;
            }
            if self.worker.is_none() {
                match self.start() {
                    Ok(w) => {
                        self.worker = Some(w);
                        self.ids.clear();
                    }
                    Err(e) => {
                        let why =
                            format!("plugin `{}`: worker not started: {e}", self.plugin.name());
                        self.fill(&pending, &why);
                        break;
                    }
                }
            }
            let Some(worker) = self.worker.as_mut() else {
                break;
            };
            let sent: Vec<&[u8]> = pending.iter().map(|&i| lines[i]).collect();
            match worker.roundtrip(&sent, &mut self.request, &mut self.reply, &self.settings) {
                Ok(()) => match self.index(&pending) {
                    Ok(()) => break,
                    Err(()) => {
                        let f = Failure {
                            kind: FailureKind::Crash,
                            line: None,
                            reason: "sent a malformed reply".into(),
                        };
                        self.worker = None;
                        self.failed(f, batch, lines, &mut pending, &mut unattributed);
                    }
                },
                Err(f) => {
                    self.worker = None;
                    self.failed(f, batch, lines, &mut pending, &mut unattributed);
                }
            }
        }
        let n = lines.len() as u64;
        self.slot
            .count_batch(n, started.elapsed().as_nanos() as u64);
    }

    /// Counts a failure and takes the line it happened on out of `pending`.
    fn failed(
        &mut self,
        f: Failure,
        batch: &BatchInfo<'_>,
        lines: &[&[u8]],
        pending: &mut Vec<usize>,
        unattributed: &mut u32,
    ) {
        // A worker that died before starting on the request is retried once; then the
        // request's first line takes the blame, so the loop always ends.
        let at = match f.line {
            Some(i) => i.min(pending.len() - 1),
            None if *unattributed == 0 => {
                *unattributed += 1;
                return;
            }
            None => 0,
        };
        *unattributed = 0;
        let line = pending.remove(at);
        let poison = Poison {
            source: batch.source.to_string(),
            offset: batch.offset_of(lines[line]),
            reason: f.reason.clone(),
        };
        tracing::warn!(
            plugin = self.plugin.name(),
            source = batch.source,
            offset = ?poison.offset,
            "plugin worker {}; the line is skipped",
            f.reason
        );
        let quarantined = self
            .plugin
            .guard
            .failed(f.kind, poison, self.settings.policy);
        if quarantined {
            tracing::warn!(
                plugin = self.plugin.name(),
                "plugin quarantined until its file changes"
            );
        }
        let why = format!("plugin `{}` {} on this line", self.plugin.name(), f.reason);
        self.set(line, Outcome::Failed(why));
    }

    fn set(&mut self, line: usize, o: Outcome) {
        if self.outcomes.len() < self.expect.len() {
            self.outcomes
                .resize_with(self.expect.len(), || Outcome::Failed(String::new()));
        }
        self.outcomes[line] = o;
    }

    fn fill(&mut self, pending: &[usize], why: &str) {
        for &i in pending {
            self.set(i, Outcome::Failed(why.to_string()));
        }
    }

    /// Splits a reply into its entries, one per pending line, and takes the key ids it
    /// defines.
    fn index(&mut self, pending: &[usize]) -> Result<(), ()> {
        let base = self.replies.len();
        if base == 0 {
            // The usual case: the batch's first reply is kept as it is, not copied.
            std::mem::swap(&mut self.replies, &mut self.reply);
        } else {
            self.replies.extend_from_slice(&self.reply);
        }
        let all = &self.replies[base..];
        let mut r = proto::Reader { b: all };
        let mut ranges = Vec::with_capacity(pending.len());
        for _ in pending {
            let len = r.u32().map_err(|_| ())? as usize;
            let start = base + all.len() - r.b.len();
            r.take(len).map_err(|_| ())?;
            ranges.push(start..start + len);
        }
        let defined = r.u16().map_err(|_| ())?;
        for _ in 0..defined {
            let len = r.u16().map_err(|_| ())? as usize;
            let key = r.take(len).map_err(|_| ())?;
            let max_key = crate::plugin_host::bounds::OutputLimits::default().max_key_bytes;
            if len > max_key || self.ids.len() >= proto::MAX_KEY_IDS {
                return Err(());
            }
            self.ids.push(self.keys.intern(key));
        }
        if !r.b.is_empty() {
            return Err(());
        }
        for (&i, range) in pending.iter().zip(ranges) {
            self.set(i, Outcome::Entry(range));
        }
        Ok(())
    }
}

impl Parser for WorkerParser {
    fn name(&self) -> &str {
        self.plugin.name()
    }

    fn prepare(&mut self, batch: &BatchInfo<'_>, lines: &[&[u8]]) {
        self.run(batch, lines);
    }

    fn parse<'a>(&mut self, line: &'a [u8], out: &mut Record<'a>) -> Result<(), ParseError> {
        let key = (line.as_ptr() as usize, line.len());
        if self.expect.get(self.next) != Some(&key) {
            // Not the batch prepared (a caller without batches): a batch of one.
            let info = BatchInfo {
                source: "",
                data: line,
                offset: None,
            };
            self.run(&info, &[line]);
        }
        let i = self.next;
        self.next += 1;
        let result = match self.outcomes.get(i) {
            Some(Outcome::Entry(r)) => {
                let keys = &mut self.keys;
                let entry = &self.replies[r.clone()];
                let mut key = |i: usize, k: &[u8]| -> Cow<'a, [u8]> { keys.get(i, k) };
                match decode::decode(entry, line, out, &self.ids, &mut key) {
                    Ok(Ok(())) => Ok(()),
                    Ok(Err((proto::NO_MATCH, _))) => Err(ParseError::NoMatch),
                    Ok(Err((tag, m))) => {
                        if tag == proto::REFUSED {
                            self.slot.count_refused();
                        }
                        Err(ParseError::Invalid(m))
                    }
                    Err(e) => Err(ParseError::Invalid(format!(
                        "plugin `{}`: {e}",
                        self.plugin.name()
                    ))),
                }
            }
            Some(Outcome::Failed(why)) => Err(ParseError::Invalid(why.clone())),
            None => Err(ParseError::Invalid(format!(
                "plugin `{}`: no result",
                self.plugin.name()
            ))),
        };
        if result.is_err() {
            out.fields.clear();
            (out.timestamp, out.level, out.target, out.message) = (None, None, None, None);
            self.slot.count_error();
        }
        result
    }
}

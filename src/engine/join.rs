//! Records that span lines, for sources with a `start` pattern: the engine gathers each
//! record's lines, per file, and applies the record once it is complete: when the next
//! start line comes, when its file has had no new line for `[tail] record_timeout` (1 s by
//! default), or when the engine stops (a one-shot run's end of file).
//!
//! - A record takes at most [`MAX_LINES`] lines after its first and [`MAX_BYTES`] bytes; a
//!   line past either is a record of its own, counted in `log_join_overflows_total`. Lines
//!   before a file's first start line are records of their own too.
//! - While a record is gathered, its file's checkpoint stays at the record's first line, so
//!   after a restart the record is read again whole, never half.
//! - Lines that join a record are counted in `log_joined_lines_total{source}` as they come.
//!
//! [`One`] applies one record, a line or a gathered record, for every source.

use super::clock::{counting_late, Clock};
use super::rules::{RecordKind, Rules};
use crate::kpi::Store;
use crate::sources::{Batch, FileIdentity, SourcesHealth};
use kpid_parsers::formats::{MAX_BYTES, MAX_LINES};
use kpid_parsers::{Parser, Record, TimeSpec};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;

/// A record being gathered: its lines so far, joined by `\n`.
#[derive(Debug)]
pub(super) struct Gathering {
    pub text: Vec<u8>,
    lines: u32,
    /// File offset of its first line, and after the last batch it took lines from.
    pub start: u64,
    pub end: u64,
    last: Instant,
    pub source: Arc<str>,
    pub path: Arc<PathBuf>,
    pub identity: FileIdentity,
    pub file: usize,
    pub checkpoint: bool,
}

/// What became of a line offered to [`Joins::offer`].
#[derive(Debug)]
pub(super) enum Offer {
    /// It joined the record being gathered.
    Joined,
    /// It is a record of its own, to apply now (`true`: a record was at its cap).
    Alone(bool),
    /// It starts a record; the one before it, if any, is complete.
    Started(Option<Gathering>),
}

/// The records being gathered, by file.
#[derive(Debug)]
pub(super) struct Joins {
    /// How long a record waits for its next line before it is taken as complete.
    hold: Duration,
    open: HashMap<usize, Gathering>,
    /// The buffer of the last record applied, for the next one.
    spare: Vec<u8>,
}

impl Joins {
    /// No record gathered yet; each will wait `hold` for its next line.
    pub fn new(hold: Duration) -> Self {
        Joins {
            hold,
            open: HashMap::new(),
            spare: Vec::new(),
        }
    }

    /// Offers a line of `batch` (`start`: it matches its source's start pattern), at file
    /// offset `at`.
    pub fn offer(&mut self, batch: &Batch, line: &[u8], start: bool, at: u64) -> Offer {
        if start {
            let mut text = std::mem::take(&mut self.spare);
            text.clear();
            text.extend_from_slice(line);
            let g = Gathering {
                text,
                lines: 0,
                start: at,
                end: batch.end_offset,
                last: Instant::now(),
                source: batch.source.clone(),
                path: batch.path.clone(),
                identity: batch.identity,
                file: batch.file,
                checkpoint: batch.checkpoint,
            };
            return Offer::Started(self.open.insert(batch.file, g));
        }
        let Some(g) = self.open.get_mut(&batch.file) else {
            return Offer::Alone(false);
        };
        if g.lines >= MAX_LINES || g.text.len() + 1 + line.len() > MAX_BYTES {
            return Offer::Alone(true);
        }
        g.text.push(b'\n');
        g.text.extend_from_slice(line);
        g.lines += 1;
        g.last = Instant::now();
        Offer::Joined
    }

    /// Marks the end of `batch`: the record open in its file has every line up to there.
    /// Returns the offset its checkpoint may take: the open record's first line, else the
    /// batch's end.
    pub fn batch_end(&mut self, batch: &Batch) -> u64 {
        match self.open.get_mut(&batch.file) {
            Some(g) => {
                g.end = batch.end_offset;
                g.start
            }
            None => batch.end_offset,
        }
    }

    /// When the oldest record will have waited its time.
    pub fn due(&self) -> Option<Instant> {
        self.open.values().map(|g| g.last + self.hold).min()
    }

    /// Takes the records complete at `now` (every one with `None`).
    pub fn take_due(&mut self, now: Option<Instant>) -> Vec<Gathering> {
        let files: Vec<usize> = self
            .open
            .iter()
            .filter(|(_, g)| now.is_none_or(|n| g.last + self.hold <= n))
            .map(|(f, _)| *f)
            .collect();
        let mut out: Vec<Gathering> = files.iter().filter_map(|f| self.open.remove(f)).collect();
        out.sort_by_key(|g| g.last);
        out
    }

    /// Keeps the buffer of an applied record for the next one.
    pub fn recycle(&mut self, text: Vec<u8>) {
        if text.capacity() <= MAX_BYTES + 1024 {
            self.spare = text;
        }
    }
}

/// What applies one record: the rules, the store, the source's parser and time setting.
pub(super) struct One<'e> {
    pub rules: &'e mut Rules,
    pub store: &'e mut Store,
    pub parser: &'e mut dyn Parser,
    rec: &'e mut Record<'static>,
    spec: &'e TimeSpec,
    clock: Clock,
}

impl<'e> One<'e> {
    /// Applies records of a source through `parser`, read with its time setting `spec` by
    /// `clock`, reusing `rec`.
    pub fn new(
        rules: &'e mut Rules,
        store: &'e mut Store,
        parser: &'e mut dyn Parser,
        rec: &'e mut Record<'static>,
        spec: &'e TimeSpec,
        clock: Clock,
    ) -> Self {
        One {
            rules,
            store,
            parser,
            rec,
            spec,
            clock,
        }
    }

    /// Parses `text` (a line, or a record's lines) of `source` read from `file`, and applies
    /// it; returns the log ring's level and time of it. A rejected line adds to `errors`.
    pub fn apply(
        &mut self,
        source: &Arc<str>,
        text: &[u8],
        file: &[u8],
        errors: &mut u64,
    ) -> (u8, f64) {
        let now = self.clock.now;
        let mut r = self.rec.lend();
        let out = match self.parser.parse(text, &mut r) {
            Ok(()) => {
                let kind = RecordKind::Line;
                let t = self
                    .clock
                    .line(self.spec, text, &r, self.store.event_stats_mut());
                let rules = &mut *self.rules;
                counting_late(self.store, |s| {
                    rules.apply_line(s, source, kind, &r, (text, file), t)
                });
                (super::stage::level_number(r.level), t)
            }
            // A multi-line record's line: its record was applied with its first line.
            Err(kpid_parsers::ParseError::Continuation) => {
                self.rules.joined(self.store, source, now);
                (0, f64::NAN)
            }
            Err(_) => {
                self.rules.parse_error(self.store, source, now);
                *errors += 1;
                (0, f64::NAN)
            }
        };
        self.rec.restore(r);
        out
    }
}

/// Counts a file's rejected lines in its health entry.
pub(super) fn count_errors(health: &SourcesHealth, file: usize, errors: u64) {
    if errors > 0 {
        if let Some(h) = health.files.lock().get_mut(file) {
            h.parse_errors += errors;
        }
    }
}

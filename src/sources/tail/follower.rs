//! One followed path: the file there now, and older files still being finished.
//!
//! Every pass stats the path. A different file there (rename, delete and recreate, symlink
//! switch) makes the old one *draining*: it is read to its end, including what is written to
//! it after the switch, and closed once quiet for a while. To keep lines in order across the
//! switch, each chunk of the new file is read *before* the draining files are read again and
//! sent *after* them: anything written to the old file before the new one grew is sent first.
//! A truncated file (shorter, or its head changed) is matched against its siblings: a copy
//! with the same leading bytes (copytruncate) is finished from where reading stopped, then the
//! file is read from 0; with no copy the bytes never read are counted as lost.

use super::identity::mtime;
use super::open_file::{OpenFile, Read, Start};
use super::pass::{emit, Ctx, Settings, Stopped};
use super::watch::arrival_key;
use std::collections::HashSet;
use std::fs::{self, File};
use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Instant, SystemTime};

/// Device, inode and birth time: one file, even where inode numbers are reused.
type FileKey = (u64, u64, Option<SystemTime>);

/// How far file modification times may lag behind the system clock.
const CLOCK_SLACK: std::time::Duration = std::time::Duration::from_millis(50);

/// A followed path.
#[derive(Debug)]
pub(crate) struct Follower {
    pub source: Arc<str>,
    pub path: PathBuf,
    /// Index in the health table.
    pub health: usize,
    pub current: Option<OpenFile>,
    /// Older files at this path, oldest first, read to their end before `current`'s new bytes.
    pub draining: Vec<OpenFile>,
    /// A file was followed here before: the next one is a rotation, read from 0.
    had_file: bool,
    /// Still at startup: a file found now starts at the end unless `from_start`.
    initial: bool,
    /// A checkpoint named this path: a file here that is not the checkpointed one is new.
    resumed: bool,
    /// The file at the path is followed under another path.
    elsewhere: bool,
    /// When following began: a rotation sibling modified since and never opened is a file
    /// that was at the path (or came after one that was) and was renamed away unread.
    created_at: SystemTime,
    /// The last look at the siblings raced with renames: look again at the next pass.
    pub(super) sibling_retry: bool,
    /// Files renamed onto the path count as arrivals (a literal path, not a glob match).
    pub literal: bool,
    /// Key of the path in the arrival counts (once its directory exists).
    arrival_key: Option<PathBuf>,
    /// Files seen at the path, or beside it (rotated away from it), since following began.
    seen_here: HashSet<FileKey>,
    /// Files seen before `seen_here` was last emptied (it is bounded).
    seen_before: u64,
    /// Arrivals already counted when following began.
    arrivals_base: u64,
    /// Arrivals never seen, already counted in `missed_files`.
    missed_counted: u64,
    /// Lost inotify events (queue overflows) already counted in `event_overflows`, from the
    /// count when following began.
    overflows_counted: Option<u64>,
    /// Modification time of the directory when its siblings were last looked at while the
    /// path was absent.
    dir_seen: Option<SystemTime>,
    error: Option<String>,
}

impl Follower {
    /// Follows `path`. `resumed`: a checkpoint named this path, so a file here that is not the
    /// checkpointed one is new (read from 0).
    pub fn new(
        source: Arc<str>,
        path: PathBuf,
        health: usize,
        initial: bool,
        resumed: bool,
    ) -> Self {
        Self {
            source,
            path,
            health,
            current: None,
            draining: Vec::new(),
            had_file: false,
            initial,
            resumed,
            elsewhere: false,
            // File times come from the kernel's coarse clock, a tick behind.
            created_at: SystemTime::now() - CLOCK_SLACK,
            dir_seen: None,
            sibling_retry: false,
            literal: true,
            arrival_key: None,
            seen_here: HashSet::new(),
            seen_before: 0,
            arrivals_base: 0,
            missed_counted: 0,
            overflows_counted: None,
            error: None,
        }
    }

    /// Device and inode of every file open here.
    pub fn open_inodes(&self) -> impl Iterator<Item = (u64, u64)> + '_ {
        self.current
            .iter()
            .chain(self.draining.iter())
            .map(OpenFile::dev_ino)
    }

    /// True when nothing is open and the path is gone.
    pub fn is_idle(&self) -> bool {
        self.current.is_none() && self.draining.is_empty()
    }

    /// Earliest instant at which a held partial line or a quiet draining file needs a pass.
    pub fn next_deadline(&self, settings: &Settings) -> Option<Instant> {
        let flush = |f: &OpenFile| f.asm.partial_since().map(|t| t + settings.partial_flush);
        let cur = self.current.as_ref().and_then(flush);
        let drain = self
            .draining
            .iter()
            .map(|f| f.last_growth + settings.rotate_wait);
        cur.into_iter()
            .chain(self.draining.iter().filter_map(flush))
            .chain(drain)
            .min()
    }

    /// At startup: opens the file present now (so "present at startup" means present when the
    /// tailer was spawned) and publishes the state, without reading.
    pub fn prime(&mut self, ctx: &mut Ctx) {
        self.check_path(ctx);
        self.initial = false;
        self.report(ctx);
    }

    /// One pass: notice rotations, read everything new, flush and close what is due.
    pub fn pass(&mut self, ctx: &mut Ctx) -> Result<(), Stopped> {
        self.check_path(ctx);
        self.initial = false;
        loop {
            let step = self.read_current(ctx)?;
            if !self.draining.is_empty() {
                self.drain(ctx)?;
            }
            match step {
                Some(lines) => emit(
                    ctx,
                    self.health,
                    &self.source,
                    self.current.as_ref(),
                    lines,
                    true,
                )?,
                None => break,
            }
        }
        if let Some(cur) = self.current.as_mut() {
            let due = cur
                .asm
                .partial_since()
                .is_some_and(|t| ctx.now >= t + ctx.settings.partial_flush);
            if due || ctx.settings.exit_at_eof {
                let lines = cur.asm.flush();
                emit(
                    ctx,
                    self.health,
                    &self.source,
                    self.current.as_ref(),
                    lines,
                    true,
                )?;
            }
        }
        self.report(ctx);
        Ok(())
    }

    /// Stats the path: opens the file that is there, makes the previous one draining, and
    /// counts as missed the files created at the path (inotify says so) that were never seen
    /// there nor found renamed away (deleted before they could be opened).
    fn check_path(&mut self, ctx: &mut Ctx) {
        if self.arrival_key.is_none() {
            self.arrival_key = arrival_key(&self.path);
            if let Some(k) = &self.arrival_key {
                self.arrivals_base = ctx.signal.arrivals(k, self.literal);
            }
        }
        // Creations lost with the kernel's queue cannot be counted as missed files: the
        // overflow itself is shown as a possible loss (in every follower it may concern).
        let overflows = ctx.signal.overflows();
        let counted = *self.overflows_counted.get_or_insert(overflows);
        if overflows > counted {
            ctx.health.files.lock()[self.health].event_overflows += overflows - counted;
            self.overflows_counted = Some(overflows);
        }
        // Taken before looking: every arrival counted here happened before the look.
        let arrivals = self.arrival_key.as_ref().map_or(0, |k| {
            ctx.signal
                .arrivals(k, self.literal)
                .saturating_sub(self.arrivals_base)
        });
        self.look(ctx);
        let seen = |f: &Self| f.seen_before + f.seen_here.len() as u64;
        let mut unexplained = arrivals.saturating_sub(seen(self));
        if unexplained > self.missed_counted && !self.initial {
            // Before counting: the files may be beside the path, renamed (read them).
            self.sibling_retry |= self.recover_siblings(ctx, self.created_at, false);
            unexplained = arrivals.saturating_sub(seen(self));
        }
        if unexplained > self.missed_counted {
            ctx.health.files.lock()[self.health].missed_files += unexplained - self.missed_counted;
            self.missed_counted = unexplained;
        }
    }

    /// Notes a file seen at the path or beside it (an arrival it may explain). Only for a file
    /// whose lines are read: open here or in another follower, or read to its end before. A
    /// file merely listed or stat-ed may be deleted before it is opened: noting it would
    /// explain its arrival while nothing of it was read (a silent loss).
    pub(super) fn seen(&mut self, m: &fs::Metadata) {
        if self.seen_here.len() >= 4096 {
            self.seen_before += self.seen_here.len() as u64;
            self.seen_here.clear();
        }
        self.seen_here.insert((m.dev(), m.ino(), m.created().ok()));
    }

    fn look(&mut self, ctx: &mut Ctx) {
        // Not noted as seen here: a stat reads nothing. A file is seen once it is open (here
        // or in another follower), so its lines are read whatever happens to its name.
        let meta = match fs::metadata(&self.path) {
            Ok(m) if m.is_file() => m,
            Ok(_) => return self.gone(Some("not a regular file".to_string())),
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::NotFound | io::ErrorKind::NotADirectory
                ) =>
            {
                self.gone(None);
                return self.scan_while_absent(ctx);
            }
            Err(e) => return self.gone(Some(e.to_string())),
        };
        if self.current.as_ref().is_some_and(|c| c.is(&meta)) {
            self.error = None;
            if self.sibling_retry {
                self.sibling_retry = self.recover_siblings(ctx, self.created_at, false);
            }
            return;
        }
        // A symlink switched back to a file still being drained: follow it again.
        let back = self
            .draining
            .iter()
            .position(|d| d.is(&meta))
            .map(|i| self.draining.remove(i));
        let fresh = back.is_none();
        let next = match back {
            Some(f) => f,
            None => match self.open(ctx) {
                Ok(Some(f)) => f,
                Ok(None) => {
                    self.gone(None);
                    self.elsewhere = true;
                    return;
                }
                // Deleted or renamed away between the stat and the open: absent (not an error);
                // renamed, it is among the siblings; deleted, it is counted as missed.
                Err(e) if e.kind() == io::ErrorKind::NotFound => {
                    self.gone(None);
                    return self.scan_while_absent(ctx);
                }
                Err(e) => return self.gone(Some(e.to_string())),
            },
        };
        self.elsewhere = false;
        if let Some(old) = self.current.replace(next) {
            self.draining.push(old);
        }
        // Files that were at the path between the last one and this one (renamed away before
        // they could be opened here) are read now, between the two.
        if (fresh || self.sibling_retry) && !self.initial {
            self.sibling_retry = self.recover_siblings(ctx, self.created_at, false);
        }
        if self.had_file || !self.draining.is_empty() {
            ctx.health.files.lock()[self.health].rotations += 1;
        }
        self.had_file = true;
        self.error = None;
    }

    /// Opens the file at the path; `None` when it is open here under another path.
    fn open(&mut self, ctx: &mut Ctx) -> io::Result<Option<OpenFile>> {
        let file = File::open(&self.path)?;
        let meta = file.metadata()?;
        if !meta.is_file() {
            return Err(io::Error::other("not a regular file"));
        }
        if ctx.reg.open.contains(&(meta.dev(), meta.ino())) {
            self.seen(&meta); // read by the follower that has it open
            return Ok(None);
        }
        let path = Arc::new(self.path.clone());
        let resume = ctx.reg.resume(&file, &meta);
        let start = match resume {
            Some(offset) => Start::At(offset),
            None if self.initial && !self.resumed && !ctx.settings.from_start => Start::End,
            None => Start::At(0),
        };
        let f = OpenFile::new(file, &meta, path, start)?;
        self.seen(&meta);
        ctx.reg.opened(&f, resume.is_some());
        Ok(Some(f))
    }

    /// The path is absent: a file created there and renamed away between two looks is among
    /// the siblings (looked for when the directory changed).
    fn scan_while_absent(&mut self, ctx: &mut Ctx) {
        if self.initial {
            return;
        }
        let dir = match self.path.parent() {
            Some(d) if !d.as_os_str().is_empty() => d,
            _ => std::path::Path::new("."),
        };
        let Ok(changed) = fs::metadata(dir).map(|m| mtime(&m)) else {
            return;
        };
        if self.dir_seen != Some(changed) || self.sibling_retry {
            self.dir_seen = Some(changed);
            self.sibling_retry = self.recover_siblings(ctx, self.created_at, false);
        }
    }

    /// The path no longer names a readable regular file (`error` says why, `None`: absent).
    fn gone(&mut self, error: Option<String>) {
        if let Some(old) = self.current.take() {
            self.draining.push(old);
        }
        self.elsewhere = false;
        self.error = error;
    }

    /// Reads one chunk of the current file; `None` at its end (or when there is none).
    fn read_current(&mut self, ctx: &mut Ctx) -> Result<Option<super::lines::Lines>, Stopped> {
        let Some(cur) = self.current.as_mut() else {
            return Ok(None);
        };
        match cur.read(ctx.settings.max_line) {
            Ok(Read::Lines(lines)) => Ok(Some(lines)),
            Ok(Read::Eof) => Ok(None),
            Ok(Read::Truncated { size }) => {
                self.truncated(ctx, size);
                Ok(Some(Default::default()))
            }
            Err(e) => {
                self.error = Some(format!("read {}: {e}", self.path.display()));
                Ok(None)
            }
        }
    }

    /// Publishes state and offset.
    fn report(&self, ctx: &mut Ctx) {
        let mut health = ctx.health.files.lock();
        let h = &mut health[self.health];
        h.path = self.path.display().to_string();
        h.state = match (&self.error, &self.current) {
            (Some(_), _) => "error",
            (None, Some(_)) => "following",
            (None, None) if self.elsewhere => "following",
            (None, None) => "waiting",
        }
        .to_string();
        if let Some(e) = &self.error {
            h.last_error = Some(e.clone());
        } else if self.current.is_some() {
            h.last_error = None;
        }
        if let Some(cur) = &self.current {
            h.offset = cur.asm.pos;
        }
    }
}

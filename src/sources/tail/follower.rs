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

use super::drain::emit;
use super::identity::find_sibling;
use super::open_file::{OpenFile, Read, Start};
use super::worker::{Ctx, Settings, Stopped};
use super::FileCheckpoint;
use std::fs::{self, File};
use std::io;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

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
    error: Option<String>,
}

impl Follower {
    /// Follows `path`. `checkpoints` are where reading stopped last time in files followed at
    /// this path: one that is no longer the file at `path` is looked for beside it (renamed, or a
    /// copytruncate copy) and finished from its checkpoint first.
    pub fn new(
        source: Arc<str>,
        path: PathBuf,
        health: usize,
        initial: bool,
        checkpoints: &[&FileCheckpoint],
    ) -> Self {
        let mut f = Self {
            source,
            path,
            health,
            current: None,
            draining: Vec::new(),
            had_file: false,
            initial,
            resumed: !checkpoints.is_empty(),
            error: None,
        };
        for cp in checkpoints {
            f.find_checkpointed(cp);
        }
        // Several old files: the least recently modified first.
        f.draining
            .sort_by_key(|d| d.file.metadata().and_then(|m| m.modified()).ok());
        f
    }

    fn find_checkpointed(&mut self, cp: &FileCheckpoint) {
        let at_path = File::open(&self.path).and_then(|file| {
            let meta = file.metadata()?;
            super::identity::matches(&file, &meta, &cp.identity, true)
        });
        if matches!(at_path, Ok(true)) {
            return; // resumed from the known offset when opened
        }
        let open: Vec<(u64, u64)> = self.open_inodes().collect();
        let found = find_sibling(&self.path, &cp.identity, true, &open)
            .or_else(|| find_sibling(&self.path, &cp.identity, false, &open));
        if let Some((file, meta, _)) = found {
            let path = Arc::new(self.path.clone());
            if let Ok(old) = OpenFile::new(file, &meta, path, Start::At(cp.offset)) {
                self.draining.push(old);
            }
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

    /// Stats the path: opens the file that is there, makes the previous one draining.
    fn check_path(&mut self, ctx: &mut Ctx) {
        let meta = match fs::metadata(&self.path) {
            Ok(m) if m.is_file() => m,
            Ok(_) => return self.gone(Some("not a regular file".to_string())),
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::NotFound | io::ErrorKind::NotADirectory
                ) =>
            {
                return self.gone(None)
            }
            Err(e) => return self.gone(Some(e.to_string())),
        };
        if self.current.as_ref().is_some_and(|c| c.is(&meta)) {
            self.error = None;
            return;
        }
        // A symlink switched back to a file still being drained: follow it again.
        let back = self
            .draining
            .iter()
            .position(|d| d.is(&meta))
            .map(|i| self.draining.remove(i));
        let next = match back {
            Some(f) => f,
            None => match self.open(ctx) {
                Ok(f) => f,
                Err(e) => return self.gone(Some(e.to_string())),
            },
        };
        if let Some(old) = self.current.replace(next) {
            self.draining.push(old);
        }
        if self.had_file || !self.draining.is_empty() {
            ctx.health.files.lock()[self.health].rotations += 1;
        }
        self.had_file = true;
        self.error = None;
    }

    fn open(&mut self, ctx: &mut Ctx) -> io::Result<OpenFile> {
        let file = File::open(&self.path)?;
        let meta = file.metadata()?;
        if !meta.is_file() {
            return Err(io::Error::other("not a regular file"));
        }
        let path = Arc::new(self.path.clone());
        let start = match ctx.known.take(&file, &meta) {
            Some(offset) => Start::At(offset),
            None if self.initial && !self.resumed && !ctx.settings.from_start => Start::End,
            None => Start::At(0),
        };
        OpenFile::new(file, &meta, path, start)
    }

    /// The path no longer names a readable regular file (`error` says why, `None`: absent).
    fn gone(&mut self, error: Option<String>) {
        if let Some(old) = self.current.take() {
            self.draining.push(old);
        }
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

//! The tailer thread: finds the files, runs passes over them when woken, sends batches.

use super::checkpoint::Checkpoints;
use super::follower::Follower;
use super::pass::{Ctx, Settings, Sink, Stopped};
use super::registry::{key, Registry};
use super::watch::{is_glob, nearest_existing, watch_dir, Signal, Watches};
use super::{FileCheckpoint, TailConfig, TailSource};
use crate::sources::{FileHealth, Input, SourcesHealth};
use std::collections::{HashMap, HashSet};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, Notify};

/// The tailer's state, owned by its thread.
#[derive(Debug)]
pub(crate) struct Worker {
    settings: Settings,
    poll: Duration,
    sources: Vec<TailSource>,
    /// Health slot of each source while its pattern matches nothing yet.
    pattern_slot: Vec<Option<usize>>,
    /// Health slot of every path ever followed (reused when a path comes back).
    slots: HashMap<PathBuf, usize>,
    followers: Vec<Follower>,
    resume: Vec<FileCheckpoint>,
    reg: Registry,
    checkpoint_interval: Duration,
    skip_save: Arc<AtomicBool>,
    sink: Sink,
    health: Arc<SourcesHealth>,
    signal: Arc<Signal>,
    watches: Option<Watches>,
    /// Polls since the watched directories were last recomputed, and the followers then.
    watch_age: (u32, usize),
    /// New sources from a reload, taken on the next wake-up.
    pending: Arc<parking_lot::Mutex<Option<Vec<TailSource>>>>,
}

impl Worker {
    pub fn new(
        cfg: TailConfig,
        tx: mpsc::Sender<Input>,
        health: Arc<SourcesHealth>,
        control: &super::TailControl,
        stop: Arc<Notify>,
        checkpoints: Arc<Checkpoints>,
        skip_save: Arc<AtomicBool>,
    ) -> std::io::Result<Self> {
        let (signal, pending) = (control.signal.clone(), control.pending.clone());
        let rt = tokio::runtime::Builder::new_current_thread().build()?;
        let watches = if cfg.exit_at_eof {
            None
        } else {
            Watches::new(signal.clone())
                .map_err(|e| tracing::warn!("tail: inotify unavailable, polling only: {e}"))
                .ok()
        };
        // Checkpoints given in the config win over those loaded with the same file.
        let mut resume: Vec<FileCheckpoint> = checkpoints
            .loaded()
            .iter()
            .filter(|l| !cfg.resume.iter().any(|c| key(c) == key(l)))
            .cloned()
            .collect();
        resume.extend(cfg.resume.iter().cloned());
        let reg = Registry::new(checkpoints, &resume);
        Ok(Self {
            settings: Settings {
                max_line: cfg.max_line_bytes,
                partial_flush: cfg.partial_flush,
                rotate_wait: cfg.rotate_wait,
                from_start: cfg.from_start || cfg.exit_at_eof,
                exit_at_eof: cfg.exit_at_eof,
            },
            poll: cfg.poll_interval.max(Duration::from_millis(1)),
            pattern_slot: vec![None; cfg.sources.len()],
            sources: cfg.sources,
            slots: HashMap::new(),
            followers: Vec::new(),
            resume,
            reg,
            checkpoint_interval: cfg.checkpoint_interval.max(Duration::from_millis(10)),
            skip_save,
            sink: Sink { tx, rt, stop },
            health,
            signal,
            watches,
            watch_age: (0, 0),
            pending,
        })
    }

    /// Finds and opens the files present now, registering them in the health table.
    pub fn prime(&mut self) {
        self.discover(true);
        let mut ctx = Ctx {
            settings: &self.settings,
            sink: &self.sink,
            health: &self.health,
            reg: &mut self.reg,
            signal: &self.signal,
            now: Instant::now(),
        };
        for f in &mut self.followers {
            f.prime(&mut ctx);
        }
        // Every file found is in the checkpoint from the start: lines written to it while kpid
        // is down are read after a restart, even if none arrives before.
        self.reg.checkpoints.save();
    }

    /// Runs until stopped (or, in one-shot mode, until everything present was sent).
    pub fn run(mut self) {
        self.run_loop();
        if !self.skip_save.load(Ordering::SeqCst) {
            self.reg.checkpoints.save();
        }
    }

    fn run_loop(&mut self) {
        let mut next_poll = Instant::now() + self.poll;
        let mut next_save = Instant::now() + self.checkpoint_interval;
        loop {
            if self.pass().is_err() || self.settings.exit_at_eof {
                return;
            }
            // A file opened in this pass is on disk before anything is read from it is applied:
            // after a crash it is found again, wherever it was renamed.
            self.reg.checkpoints.save_if_dirty();
            let deadline = self
                .next_deadline()
                .map_or(next_poll, |d| d.min(next_poll))
                .min(next_save);
            let wake = self.signal.wait(deadline);
            if wake.stop {
                return;
            }
            let now = Instant::now();
            if now >= next_save {
                self.reg.checkpoints.save_if_dirty();
                next_save = now + self.checkpoint_interval;
            }
            let reload = self.pending.lock().take();
            if let Some(sources) = reload {
                self.replace_sources(sources);
            }
            if wake.rescan || now >= next_poll {
                if wake.rescan {
                    self.watch_age.0 = u32::MAX; // something changed: recompute the watches
                }
                self.discover(false);
            }
            if now >= next_poll {
                next_poll = now + self.poll;
            }
        }
    }

    /// What a follower's work needs, with the registry's set of open files brought up to
    /// date; and the followers, borrowed beside it.
    fn ctx(&mut self) -> (Ctx<'_>, &mut Vec<Follower>) {
        self.reg.open = self
            .followers
            .iter()
            .flat_map(Follower::open_inodes)
            .collect();
        let ctx = Ctx {
            settings: &self.settings,
            sink: &self.sink,
            health: &self.health,
            reg: &mut self.reg,
            signal: &self.signal,
            now: Instant::now(),
        };
        (ctx, &mut self.followers)
    }

    fn pass(&mut self) -> Result<(), Stopped> {
        let (mut ctx, followers) = self.ctx();
        for f in followers.iter_mut() {
            f.pass(&mut ctx)?;
        }
        Ok(())
    }

    fn next_deadline(&self) -> Option<Instant> {
        self.followers
            .iter()
            .filter_map(|f| f.next_deadline(&self.settings))
            .min()
    }

    /// Expands the sources into followed paths, drops glob matches that are gone, and points
    /// the watches at the directories concerned.
    fn discover(&mut self, initial: bool) {
        for i in 0..self.sources.len() {
            let pattern = self.sources[i].pattern.clone();
            if !is_glob(&pattern) {
                self.follow(i, PathBuf::from(&pattern), initial);
                continue;
            }
            let mut paths: Vec<PathBuf> = glob::glob(&pattern)
                .map(|g| g.flatten().filter(|p| !p.is_dir()).collect())
                .unwrap_or_default();
            if initial {
                // Checkpointed files whose path is gone may have been rotated away while down.
                let pat = glob::Pattern::new(&pattern).ok();
                let extra = self.resume.iter().map(|cp| &cp.path);
                paths.extend(
                    extra
                        .filter(|p| pat.as_ref().is_some_and(|m| m.matches_path(p)))
                        .cloned(),
                );
            }
            for p in paths {
                self.follow(i, p, initial);
            }
            if self.pattern_slot[i].is_none()
                && !self
                    .followers
                    .iter()
                    .any(|f| Arc::ptr_eq(&f.source, &self.sources[i].name))
            {
                let slot = self.new_slot(i, pattern.clone());
                self.pattern_slot[i] = Some(slot);
            }
        }
        // Glob matches that disappeared and are finished with.
        let literal: HashSet<&str> = self
            .sources
            .iter()
            .filter(|s| !is_glob(&s.pattern))
            .map(|s| s.pattern.as_str())
            .collect();
        let mut table = self.health.files.lock();
        self.followers.retain(|f| {
            let keep =
                !f.is_idle() || f.path.exists() || literal.contains(f.path.to_str().unwrap_or(""));
            if !keep {
                table[f.health].state = "gone".to_string();
            }
            keep
        });
        drop(table);
        // Recomputing the watched directories resolves every followed path (a few syscalls
        // each): only at start, on an inotify rescan, when the followers changed, and every 8th
        // poll as the backstop, so that an idle tailer stays cheap.
        let (age, followed) = self.watch_age;
        let due = initial || age >= 8 || followed != self.followers.len();
        self.watch_age = if due {
            (0, self.followers.len())
        } else {
            (age + 1, followed)
        };
        if let Some(w) = self.watches.as_mut().filter(|_| due) {
            let mut dirs: HashSet<PathBuf> =
                self.sources.iter().map(|s| watch_dir(&s.pattern)).collect();
            for f in &self.followers {
                if let Some(parent) = f.path.parent() {
                    dirs.insert(nearest_existing(parent));
                }
                if let Some(parent) = std::fs::canonicalize(&f.path)
                    .ok()
                    .and_then(|r| r.parent().map(Path::to_path_buf))
                {
                    dirs.insert(parent);
                }
            }
            w.set(dirs);
        }
    }

    /// Follows `path` for source `i` unless already followed (by path, or as a file open here).
    fn follow(&mut self, i: usize, path: PathBuf, initial: bool) {
        if self.followers.iter().any(|f| f.path == path) {
            return;
        }
        if let Ok(meta) = std::fs::metadata(&path) {
            let key = (meta.dev(), meta.ino());
            if self
                .followers
                .iter()
                .any(|f| f.open_inodes().any(|k| k == key))
            {
                return; // followed under another name, or a rotated file being finished
            }
        }
        let slot = match (self.slots.get(&path), self.pattern_slot[i].take()) {
            (Some(&slot), taken) => {
                self.pattern_slot[i] = taken;
                slot
            }
            (None, Some(slot)) => slot,
            (None, None) => self.new_slot(i, path.display().to_string()),
        };
        self.slots.insert(path.clone(), slot);
        let checkpoints: Vec<&FileCheckpoint> = if initial {
            self.resume.iter().filter(|cp| cp.path == path).collect()
        } else {
            Vec::new()
        };
        let checkpoints: Vec<FileCheckpoint> = checkpoints.into_iter().cloned().collect();
        let name = self.sources[i].name.clone();
        let mut f = Follower::new(name, path, slot, initial, !checkpoints.is_empty());
        f.literal = !is_glob(&self.sources[i].pattern);
        if !checkpoints.is_empty() {
            let (mut ctx, _) = self.ctx();
            f.recover_at_start(&mut ctx, &checkpoints);
        }
        self.followers.push(f);
    }

    /// A reload: keeps the followers of sources unchanged (same name and pattern), drops
    /// those of sources gone or changed, and follows the new ones as at startup.
    fn replace_sources(&mut self, sources: Vec<TailSource>) {
        let same = |a: &TailSource, b: &TailSource| a.name == b.name && a.pattern == b.pattern;
        let kept = |name: &Arc<str>, old: &[TailSource]| {
            old.iter()
                .any(|o| &o.name == name && sources.iter().any(|n| same(o, n)))
        };
        let mut table = self.health.files.lock();
        for (i, o) in self.sources.iter().enumerate() {
            if !sources.iter().any(|n| same(o, n)) {
                if let Some(slot) = self.pattern_slot[i] {
                    table[slot].state = "removed".to_string();
                }
            }
        }
        let old = std::mem::take(&mut self.sources);
        self.followers.retain(|f| {
            let keep = kept(&f.source, &old);
            if !keep {
                table[f.health].state = "removed".to_string();
            }
            keep
        });
        drop(table);
        self.pattern_slot = sources
            .iter()
            .map(|n| {
                old.iter()
                    .position(|o| same(o, n))
                    .and_then(|i| self.pattern_slot[i])
            })
            .collect();
        self.slots.retain(|_, slot| {
            self.followers.iter().any(|f| f.health == *slot)
                || self.pattern_slot.contains(&Some(*slot))
        });
        self.sources = sources;
        // Checkpoints from startup are stale by now: a source added back starts afresh.
        self.resume.clear();
        let before: HashSet<PathBuf> = self.followers.iter().map(|f| f.path.clone()).collect();
        self.discover(true);
        let (mut ctx, followers) = self.ctx();
        for f in followers.iter_mut().filter(|f| !before.contains(&f.path)) {
            f.prime(&mut ctx);
        }
    }

    fn new_slot(&self, i: usize, path: String) -> usize {
        let mut table = self.health.files.lock();
        table.push(FileHealth {
            source: self.sources[i].name.to_string(),
            path,
            state: "waiting".to_string(),
            ..FileHealth::default()
        });
        table.len() - 1
    }
}

//! Waking the tailer: inotify (through `notify`) on the directories that matter, a timed poll
//! as backstop, and the stop request, all funnelled into one [`Signal`].
//!
//! Events are wake-ups: every pass re-stats the followed paths, so a lost or coalesced event
//! costs at most one poll interval, never a line of a file that is still there. They also
//! count the files created at each path (for `missed_files`); when the kernel's queue
//! overflows those counts are incomplete, and the overflow itself is counted.

use notify::event::{CreateKind, EventKind, ModifyKind, RenameMode};
use notify::{RecommendedWatcher, RecursiveMode, Watcher};
use parking_lot::{Condvar, Mutex};
use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

/// Why the worker woke up.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Wake {
    /// Something may have been written.
    pub dirty: bool,
    /// Files may have appeared, moved or gone: look for new matches.
    pub rescan: bool,
    /// Stop now.
    pub stop: bool,
}

/// Wake-up flags plus a condition variable, and how many files were created at each path.
#[derive(Debug, Default)]
pub(crate) struct Signal {
    state: Mutex<Wake>,
    cv: Condvar,
    arrivals: Mutex<HashMap<PathBuf, u64>>,
    /// Events lost: inotify queue overflows and watcher errors.
    overflows: AtomicU64,
}

impl Signal {
    /// Records a wake-up.
    pub fn wake(&self, rescan: bool) {
        let mut s = self.state.lock();
        s.dirty = true;
        s.rescan |= rescan;
        self.cv.notify_one();
    }

    /// Handles one event (or watcher error) from `notify`: counts arrivals and lost events,
    /// and wakes the worker.
    fn on_event(&self, res: notify::Result<notify::Event>) {
        if let Ok(ev) = &res {
            match ev.kind {
                EventKind::Create(CreateKind::File) => {
                    ev.paths.iter().for_each(|p| self.arrived(p, false))
                }
                EventKind::Modify(ModifyKind::Name(RenameMode::To)) => {
                    ev.paths.iter().for_each(|p| self.arrived(p, true))
                }
                _ => {}
            }
        }
        let rescan = match &res {
            Ok(ev) => {
                ev.need_rescan()
                    || !matches!(
                        ev.kind,
                        EventKind::Access(_) | EventKind::Modify(ModifyKind::Data(_))
                    )
            }
            Err(_) => true,
        };
        // IN_Q_OVERFLOW (notify flags it "rescan"), or events that could not be read: some
        // creations were never reported and the arrival counts are short by an unknown number.
        if res.as_ref().map_or(true, notify::Event::need_rescan) {
            self.overflows.fetch_add(1, Ordering::SeqCst);
        }
        self.wake(rescan);
    }

    /// Events lost so far (queue overflows, watcher errors): each may hide missed files.
    pub fn overflows(&self) -> u64 {
        self.overflows.load(Ordering::SeqCst)
    }

    /// A file was created at `path` (or renamed to it: `rename`).
    fn arrived(&self, path: &Path, rename: bool) {
        let Some(key) = arrival_key(path) else { return };
        let key = if rename { renamed_key(&key) } else { key };
        *self.arrivals.lock().entry(key).or_default() += 1;
    }

    /// Files created at `key` (see [`arrival_key`]) so far; with `renames`, also those renamed
    /// to it.
    pub fn arrivals(&self, key: &Path, renames: bool) -> u64 {
        let a = self.arrivals.lock();
        let created = a.get(key).copied().unwrap_or(0);
        match renames {
            true => created + a.get(&renamed_key(key)).copied().unwrap_or(0),
            false => created,
        }
    }

    /// Asks the worker to stop.
    pub fn stop(&self) {
        self.state.lock().stop = true;
        self.cv.notify_one();
    }

    /// Waits until woken or `deadline`, then takes the flags (stop stays set).
    pub fn wait(&self, deadline: Instant) -> Wake {
        let mut s = self.state.lock();
        if !s.dirty && !s.stop {
            self.cv.wait_until(&mut s, deadline);
        }
        let wake = *s;
        *s = Wake {
            stop: s.stop,
            ..Wake::default()
        };
        wake
    }
}

/// The inotify watches, kept equal to the wanted set of directories.
pub(crate) struct Watches {
    watcher: RecommendedWatcher,
    dirs: HashSet<PathBuf>,
}

impl std::fmt::Debug for Watches {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Watches").field("dirs", &self.dirs).finish()
    }
}

impl Watches {
    /// A watcher that wakes `signal`. Fails when inotify is unavailable (the poll still works).
    pub fn new(signal: Arc<Signal>) -> notify::Result<Self> {
        let watcher = notify::recommended_watcher(move |res: notify::Result<notify::Event>| {
            signal.on_event(res)
        })?;
        Ok(Self {
            watcher,
            dirs: HashSet::new(),
        })
    }

    /// Watches exactly `wanted` (directories that do not exist are skipped).
    pub fn set(&mut self, wanted: HashSet<PathBuf>) {
        let stale: Vec<PathBuf> = self.dirs.difference(&wanted).cloned().collect();
        for dir in stale {
            let _ = self.watcher.unwatch(&dir);
            self.dirs.remove(&dir);
        }
        for dir in wanted {
            if self.dirs.contains(&dir) {
                continue;
            }
            match self.watcher.watch(&dir, RecursiveMode::NonRecursive) {
                Ok(()) => {
                    self.dirs.insert(dir);
                }
                Err(e) => tracing::debug!("tail: cannot watch {}: {e}", dir.display()),
            }
        }
    }
}

fn renamed_key(key: &Path) -> PathBuf {
    let mut k = key.as_os_str().to_owned();
    k.push("\0renamed");
    PathBuf::from(k)
}

/// The key arrivals at `path` are counted under: its directory's canonical path joined with
/// its name (`None` while the directory does not exist).
pub(crate) fn arrival_key(path: &Path) -> Option<PathBuf> {
    let name = path.file_name()?;
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    std::fs::canonicalize(dir).ok().map(|d| d.join(name))
}

/// True when `s` has glob metacharacters.
pub(crate) fn is_glob(s: &str) -> bool {
    s.contains(['*', '?', '['])
}

/// The directory to watch for `pattern`: the deepest existing directory above the first
/// component with a glob metacharacter (or above the file, for a plain path).
pub(crate) fn watch_dir(pattern: &str) -> PathBuf {
    let path = Path::new(pattern);
    let mut base = PathBuf::new();
    let mut comps: Vec<_> = path.components().collect();
    comps.pop(); // the file name (or the first globbed component at the latest)
    for c in comps {
        if is_glob(&c.as_os_str().to_string_lossy()) {
            break;
        }
        base.push(c);
    }
    nearest_existing(&base)
}

/// `dir`, or its nearest ancestor that exists ("." for a relative path with none).
pub(crate) fn nearest_existing(dir: &Path) -> PathBuf {
    let mut d = dir.to_path_buf();
    loop {
        if d.as_os_str().is_empty() {
            return PathBuf::from(".");
        }
        if d.is_dir() {
            return d;
        }
        if !d.pop() {
            return PathBuf::from(".");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queue_overflow_and_watcher_errors_are_counted_as_lost_events() {
        use notify::event::Flag;
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a.log");
        let s = Signal::default();
        let create = notify::Event::new(EventKind::Create(CreateKind::File)).add_path(p.clone());
        s.on_event(Ok(create));
        assert_eq!(
            (s.arrivals(&arrival_key(&p).unwrap(), false), s.overflows()),
            (1, 0)
        );
        // What notify reports for IN_Q_OVERFLOW.
        s.on_event(Ok(
            notify::Event::new(EventKind::Other).set_flag(Flag::Rescan)
        ));
        assert_eq!(s.overflows(), 1);
        s.on_event(Err(notify::Error::generic("read failed")));
        assert_eq!(s.overflows(), 2);
        let wake = s.wait(Instant::now());
        assert!(wake.dirty && wake.rescan);
    }

    #[test]
    fn watch_dir_stops_at_globs_and_missing_dirs() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().to_str().unwrap();
        std::fs::create_dir(dir.path().join("logs")).unwrap();
        assert_eq!(
            watch_dir(&format!("{root}/logs/*.log")),
            dir.path().join("logs")
        );
        assert_eq!(
            watch_dir(&format!("{root}/logs/a.log")),
            dir.path().join("logs")
        );
        assert_eq!(watch_dir(&format!("{root}/x/y/a.log")), dir.path());
        assert_eq!(
            watch_dir(&format!("{root}/logs/*/a.log")),
            dir.path().join("logs")
        );
        assert_eq!(watch_dir("a.log"), PathBuf::from("."));
    }
}

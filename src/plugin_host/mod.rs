//! Parser plugins on the daemon side: finding, checking and loading shared libraries from the
//! plugin directory, the registry of what loaded (and what was refused, and why), and the
//! parsers they make, used through the same [`Parser`] trait as the built-in ones.
//!
//! Loading is careful ([`check`]): a file or directory that group or others can write, or that
//! another user owns, is refused, as is anything that is not an ELF shared library for this
//! machine exporting `kpid_plugin_entry`, all before any of the library's code runs. The bytes
//! checked are the bytes loaded: the file is read once through one descriptor and loaded from
//! a private in-memory copy (`load`), so replacing the file later cannot change a loaded
//! plugin. Then the entry function's table must carry this host's ABI version and a table at
//! least as large as it knows, before any other call. Plugins are never unloaded; a changed
//! file loads as a new version, and parsers made from the old one keep running on it.

pub mod bounds;
pub mod check;
pub mod factory;
pub mod guard;
mod health;
mod load;
mod parser;
pub mod worker;

pub use guard::{GuardFigures, Poison};
pub use load::Plugin;
pub use worker::{Isolation, WorkerSettings};

use kpid_parsers::Parser;
use parking_lot::Mutex;
use serde::Serialize;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::time::{Duration, SystemTime};

/// Why a plugin was refused, or could not make a parser.
#[derive(Debug, thiserror::Error)]
pub enum PluginError {
    /// Reading the file or its directory failed.
    #[error("{path}: {source}")]
    Io {
        /// What was read.
        path: PathBuf,
        /// Why it failed.
        source: std::io::Error,
    },
    /// Not a regular file.
    #[error("{0}: not a regular file")]
    NotRegular(PathBuf),
    /// Group or others may write it.
    #[error("{path}: {what} is writable by group or others (mode {mode:o}); run chmod go-w")]
    Writable {
        /// The file or directory.
        path: PathBuf,
        /// `file` or `directory`.
        what: &'static str,
        /// Its permission bits.
        mode: u32,
    },
    /// Owned by a user other than the daemon's (or root).
    #[error("{path}: {what} is owned by uid {owner}, not by kpid's uid {uid} or root")]
    Owner {
        /// The file or directory.
        path: PathBuf,
        /// `file` or `directory`.
        what: &'static str,
        /// Its owner.
        owner: u32,
        /// The daemon's effective uid.
        uid: u32,
    },
    /// Not an ELF shared library this process can load.
    #[error("{path}: {why}")]
    NotLibrary {
        /// The file.
        path: PathBuf,
        /// What is wrong (bad magic, another machine, an executable...).
        why: String,
    },
    /// The library does not export the entry function.
    #[error("{0}: no `kpid_plugin_entry` function exported (not a kpid plugin, or built without declare_parser!)")]
    MissingEntry(PathBuf),
    /// The dynamic loader refused it.
    #[error("{path}: dlopen failed: {why}")]
    Dlopen {
        /// The file.
        path: PathBuf,
        /// The loader's message.
        why: String,
    },
    /// The table's ABI version is not this host's.
    #[error("{path}: plugin ABI version {found}, kpid speaks version {expected}; rebuild the plugin against this kpid")]
    AbiVersion {
        /// The file.
        path: PathBuf,
        /// Version in the table.
        found: u32,
        /// Version of this host.
        expected: u32,
    },
    /// The table is smaller than this host's.
    #[error("{path}: plugin table is {found} bytes, kpid needs at least {expected}")]
    TableSize {
        /// The file.
        path: PathBuf,
        /// Size in the table.
        found: u32,
        /// Size this host knows.
        expected: u32,
    },
    /// The table is malformed (null entry, bad name...).
    #[error("{path}: bad plugin table: {why}")]
    BadTable {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        why: String,
    },
    /// Another loaded file already provides this parser name.
    #[error("{path}: parser name `{name}` is already provided by {other}")]
    Duplicate {
        /// The file.
        path: PathBuf,
        /// The name.
        name: String,
        /// The file that has it.
        other: PathBuf,
    },
    /// The name is a built-in parser's.
    #[error("{path}: parser name `{name}` is a built-in parser's; rename the plugin")]
    BuiltinName {
        /// The file.
        path: PathBuf,
        /// The name.
        name: String,
    },
    /// The plugin refused its options (or failed making a parser).
    #[error("plugin `{name}`: cannot create a parser: {message}")]
    Create {
        /// Plugin name.
        name: String,
        /// The plugin's message.
        message: String,
    },
}

/// One plugin file version as `/api/health` and `kpid plugins` show it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PluginInfo {
    /// Parser name (the file name when refused before the name was known).
    pub name: String,
    /// The plugin's version (empty when refused before it was known).
    pub version: String,
    /// ABI version of the table, when read.
    pub abi: Option<u32>,
    /// The file.
    pub path: PathBuf,
    /// `loaded`, `superseded` (an older version of a changed file, still serving the parsers
    /// made from it) or `refused: REASON`.
    pub status: String,
    /// Lines parsed by this version's parsers.
    pub lines: u64,
    /// Lines they rejected (no match, invalid, panic).
    pub errors: u64,
    /// Mean time per line in nanoseconds, including the boundary crossing (sampled).
    pub ns_per_line: Option<f64>,
    /// `worker` (each parser in a worker process) or `in-process`.
    pub mode: &'static str,
    /// Lines whose output was refused (out of bounds: too many fields, a key or value too
    /// long, a pointer past the line).
    pub refused_output: u64,
    /// Workers' crashes, timeouts, memory-limit hits, quarantine and last poison line.
    #[serde(flatten)]
    pub guard: GuardFigures,
}

/// What the registry keeps per file version.
#[derive(Debug)]
struct Entry {
    path: PathBuf,
    file: check::FileId,
    outcome: Result<Arc<Plugin>, PluginError>,
    superseded: bool,
}

/// The loaded plugins of one directory.
#[derive(Debug)]
pub struct PluginHost {
    dir: Option<PathBuf>,
    entries: Mutex<Vec<Entry>>,
    problem: Mutex<Option<String>>,
    refusals: AtomicU64,
    isolation: Mutex<Isolation>,
}

/// Files younger than this are left for the next scan of a watch (they may be half-written).
const SETTLE: Duration = Duration::from_millis(300);

impl PluginHost {
    /// A host with no plugins.
    pub fn empty() -> PluginHost {
        PluginHost {
            dir: None,
            entries: Mutex::new(Vec::new()),
            problem: Mutex::new(None),
            refusals: AtomicU64::new(0),
            isolation: Mutex::new(Isolation::InProcess),
        }
    }

    /// How parsers made from now on run (in-process until set).
    pub fn set_isolation(&self, isolation: Isolation) {
        *self.isolation.lock() = isolation;
    }

    /// How parsers made from now on run.
    pub fn isolation(&self) -> Isolation {
        self.isolation.lock().clone()
    }

    /// Loads every `*.so` file of `dir`. Refusals are recorded (see [`PluginHost::list`]),
    /// never fatal; a missing directory gives a host with no plugins and a [`problem`].
    ///
    /// [`problem`]: PluginHost::problem
    pub fn load_dir(dir: &Path) -> PluginHost {
        let host = PluginHost {
            dir: Some(dir.to_path_buf()),
            ..PluginHost::empty()
        };
        host.scan(false);
        host
    }

    /// The plugin directory, when there is one.
    pub fn dir(&self) -> Option<&Path> {
        self.dir.as_deref()
    }

    /// Why the directory itself could not be read, if it could not.
    pub fn problem(&self) -> Option<String> {
        self.problem.lock().clone()
    }

    /// Plugin files refused so far (each refused version counts).
    pub fn refusals(&self) -> u64 {
        self.refusals.load(Ordering::Relaxed)
    }

    /// Looks the directory over again and loads new or changed files; returns how many file
    /// versions were tried (loaded or refused).
    pub fn rescan(&self) -> usize {
        self.scan(true)
    }

    fn scan(&self, settle: bool) -> usize {
        let Some(dir) = &self.dir else { return 0 };
        let files = match check::candidates(dir) {
            Ok(files) => files,
            Err(e) => {
                *self.problem.lock() = Some(format!("plugin directory {e}"));
                return 0;
            }
        };
        *self.problem.lock() = None;
        let mut tried = 0;
        for path in files {
            let Ok(file) = check::FileId::of(&path) else {
                continue;
            };
            if settle && file.modified_within(SETTLE, SystemTime::now()) {
                continue;
            }
            let known = self
                .entries
                .lock()
                .iter()
                .rev()
                .find(|e| e.path == path)
                .map(|e| e.file);
            if known == Some(file) {
                continue;
            }
            let outcome = check::directory(dir).and_then(|()| load::load(&path).map(Arc::new));
            self.record(path, file, outcome);
            tried += 1;
        }
        tried
    }

    fn record(
        &self,
        path: PathBuf,
        file: check::FileId,
        outcome: Result<Arc<Plugin>, PluginError>,
    ) {
        let mut entries = self.entries.lock();
        let outcome = outcome.and_then(|p| {
            let taken = entries.iter().find(|e| {
                e.path != path
                    && !e.superseded
                    && e.outcome.as_ref().is_ok_and(|o| o.name() == p.name())
            });
            let pattern = Some(String::new());
            let builtin = kpid_parsers::builtin(p.name(), &kpid_parsers::ParserOptions { pattern });
            if !matches!(builtin, Err(kpid_parsers::BuildError::Unknown(_))) {
                return Err(PluginError::BuiltinName {
                    path: path.clone(),
                    name: p.name().to_string(),
                });
            }
            match taken {
                Some(e) => Err(PluginError::Duplicate {
                    path: path.clone(),
                    name: p.name().to_string(),
                    other: e.path.clone(),
                }),
                None => Ok(p),
            }
        });
        match &outcome {
            Ok(p) => {
                tracing::info!(path = %path.display(), name = p.name(), version = p.version(), "plugin loaded");
                for e in entries
                    .iter_mut()
                    .filter(|e| e.path == path && e.outcome.is_ok())
                {
                    e.superseded = true;
                    if let Ok(old) = &e.outcome {
                        old.superseded_by(p.clone());
                    }
                }
            }
            Err(e) => {
                self.refusals.fetch_add(1, Ordering::Relaxed);
                tracing::warn!("plugin refused: {e}")
            }
        }
        // Keep one refusal per path: a file rewritten many times does not grow the list.
        entries.retain(|e| e.path != path || e.outcome.is_ok());
        entries.push(Entry {
            path,
            file,
            outcome,
            superseded: false,
        });
    }

    /// Makes a parser from the current version of the plugin called `name`, or `None` when
    /// no loaded plugin has that name; it runs as [`PluginHost::isolation`] says.
    pub fn make(&self, name: &str, options: &str) -> Option<Result<Box<dyn Parser>, PluginError>> {
        let plugin = self.plugin(name)?;
        Some(match self.isolation() {
            Isolation::InProcess => plugin.make(options).map(|p| Box::new(p) as Box<dyn Parser>),
            Isolation::Worker(settings) => worker::WorkerParser::new(plugin, options, settings)
                .map(|p| Box::new(p) as Box<dyn Parser>),
        })
    }

    /// The current version of the plugin called `name`.
    pub fn plugin(&self, name: &str) -> Option<Arc<Plugin>> {
        let entries = self.entries.lock();
        entries
            .iter()
            .rev()
            .filter(|e| !e.superseded)
            .find_map(|e| match &e.outcome {
                Ok(p) if p.name() == name => Some(p.clone()),
                _ => None,
            })
    }

    /// Every file version tried, in load order, with its figures.
    pub fn list(&self) -> Vec<PluginInfo> {
        let mode = match self.isolation() {
            Isolation::InProcess => "in-process",
            Isolation::Worker(_) => "worker",
        };
        let entries = self.entries.lock();
        entries
            .iter()
            .map(|e| match &e.outcome {
                Ok(p) => {
                    let s = p.stats();
                    PluginInfo {
                        name: p.name().to_string(),
                        version: p.version().to_string(),
                        abi: Some(kpid_plugin::abi::ABI_VERSION),
                        path: e.path.clone(),
                        status: if e.superseded { "superseded" } else { "loaded" }.to_string(),
                        lines: s.lines,
                        errors: s.errors,
                        ns_per_line: s.ns_per_line(),
                        mode,
                        refused_output: s.refused,
                        guard: p.guard.figures(),
                    }
                }
                Err(err) => PluginInfo {
                    name: e
                        .path
                        .file_name()
                        .map(|n| n.to_string_lossy().into_owned())
                        .unwrap_or_default(),
                    version: String::new(),
                    abi: match err {
                        PluginError::AbiVersion { found, .. } => Some(*found),
                        _ => None,
                    },
                    path: e.path.clone(),
                    status: format!("refused: {err}"),
                    lines: 0,
                    errors: 0,
                    ns_per_line: None,
                    mode,
                    refused_output: 0,
                    guard: GuardFigures::default(),
                },
            })
            .collect()
    }

    /// Rescans the directory every second on a background thread, loading files that appear
    /// or change, until the host is dropped.
    pub fn watch(self: &Arc<Self>) {
        self.watch_every(Duration::from_secs(1));
    }

    /// [`PluginHost::watch`] with another period.
    pub fn watch_every(self: &Arc<Self>, period: Duration) {
        if self.dir.is_none() {
            return;
        }
        let host: Weak<PluginHost> = Arc::downgrade(self);
        let spawned = std::thread::Builder::new()
            .name("kpid-plugins".into())
            .spawn(move || loop {
                std::thread::sleep(period);
                match host.upgrade() {
                    Some(h) => {
                        h.rescan();
                    }
                    None => return,
                }
            });
        if let Err(e) = spawned {
            tracing::warn!("plugin watcher not started: {e}");
        }
    }
}

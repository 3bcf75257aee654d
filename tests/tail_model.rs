//! Model-based test of the tailer, in the spirit of Vector's file-watcher experiments: seeded
//! random sequences of write, write to the rotated file's old descriptor, rename rotation (with
//! or without a new file), truncate, delete, create, symlink switch, `kill -9` and restart, and
//! clean restart, run against the real tailer (`kpid::sources::tail`) over real files, each
//! checked against an oracle: every line is applied at most once and, per file, in order; every
//! line of a file never truncated or deleted is applied; after a truncation every later line is;
//! truncation losses counted never exceed the lines actually missing.
//!
//! "Apply" is a thread that takes batches and acknowledges them to [`Checkpoints`] (no
//! counters) every few batches or when idle; "kill -9" stops it between batches, dropping what
//! it had not acknowledged, and abandons the tailer without its shutdown checkpoint; the next
//! run starts from the checkpoint on disk. Three layouts: a plain path, a glob that also matches
//! the rotated files, and a symlink switched between dated targets.
//!
//! `KPID_MODEL_CASES` (default 3000) sets the number of cases, `KPID_MODEL_FIRST_SEED` the
//! first seed (default 1), `KPID_MODEL_SEED` runs one case.
//! A failure prints the seed and the operations.

mod tail_support;
use kpid::sources::tail::{self, Checkpoints, FileCheckpoint, TailConfig, TailSource, Tailer};
use kpid::sources::{Input, SourcesHealth};
use kpid::state::StateDir;
use parking_lot::Mutex;
use std::collections::{HashMap, HashSet};
use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};
use tail_support::rotate_numbered;
use tokio::sync::mpsc;

/// xorshift64*.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Layout {
    Plain,
    Glob,
    Symlink,
}

#[derive(Debug, Clone, Copy)]
enum Op {
    Write(u32),
    WriteOld(u32),
    Rotate,
    RotateNoCreate,
    Truncate,
    Delete,
    Kill,
    Restart,
    Sync,
}

/// A file the model wrote.
struct MFile {
    fd: File,
    /// Lines written (their seqs are 0..written).
    written: u32,
    deleted: bool,
    /// Lines before this seq may be lost (written before a truncation).
    lossy_below: u32,
    /// Device and inode.
    key: (u64, u64),
    /// Not in the checkpoint on disk when a tailer stopped or was killed, and no longer at the
    /// path: it may never be read (nothing recorded it; the tailer had not opened it).
    unwitnessed: bool,
}

impl MFile {
    fn new(fd: File) -> Self {
        use std::os::unix::fs::MetadataExt;
        let m = fd.metadata().unwrap();
        Self {
            fd,
            written: 0,
            deleted: false,
            lossy_below: 0,
            key: (m.dev(), m.ino()),
            unwitnessed: false,
        }
    }
}

/// One line applied: file id and seq.
type LineId = (u32, u32);

fn line(fid: u32, seq: u32) -> String {
    format!("F{fid:05}-{seq:07}\n")
}

fn parse(l: &[u8]) -> LineId {
    let s = std::str::from_utf8(l).expect("utf8 line");
    let fid = s[1..6].parse().expect("file id");
    let seq = s[7..14].parse().expect("seq");
    (fid, seq)
}

/// The apply thread: what it applied and acknowledged, and what it holds unacknowledged.
#[derive(Default)]
struct Applied {
    confirmed: Vec<LineId>,
    pending: Vec<LineId>,
}

struct Run {
    tailer: Option<Tailer>,
    apply: Option<JoinHandle<()>>,
    kill: Arc<AtomicBool>,
    health: Arc<SourcesHealth>,
}

struct Case {
    dir: tempfile::TempDir,
    layout: Layout,
    state: StateDir,
    files: Vec<MFile>,
    cur: Option<usize>,
    prev: Option<usize>,
    /// The previous op left `prev` writable (nothing written to the new file since).
    old_writable: bool,
    targets: u32,
    applied: Arc<Mutex<Applied>>,
    run: Option<Run>,
    lost_counted: u64,
    missed_counted: u64,
    ack_every: u64,
}

impl Case {
    fn log(&self) -> PathBuf {
        self.dir.path().join(match self.layout {
            Layout::Symlink => "cur.log",
            _ => "app.log",
        })
    }

    fn start(&mut self) {
        let pattern = match self.layout {
            Layout::Glob => format!("{}/app.log*", self.dir.path().display()),
            _ => self.log().display().to_string(),
        };
        let cfg = TailConfig {
            sources: vec![TailSource {
                name: Arc::from("m"),
                pattern,
            }],
            poll_interval: Duration::from_millis(20),
            rotate_wait: Duration::from_millis(300),
            checkpoint_interval: Duration::from_millis(30),
            from_start: true,
            ..TailConfig::default()
        };
        let cps = Checkpoints::new(Some(self.state.clone()), self.state.load().unwrap());
        let (tx, mut rx) = mpsc::channel::<Input>(2);
        let health = SourcesHealth::shared();
        let tailer = tail::spawn(cfg, tx, health.clone(), cps.clone()).unwrap();
        let kill = Arc::new(AtomicBool::new(false));
        let (applied, k, every) = (self.applied.clone(), kill.clone(), self.ack_every);
        let apply = std::thread::spawn(move || {
            let mut offsets: HashMap<(u64, u64), FileCheckpoint> = HashMap::new();
            let mut unacked = 0;
            let ack = |offsets: &HashMap<(u64, u64), FileCheckpoint>| {
                let files: Vec<FileCheckpoint> = offsets.values().cloned().collect();
                cps.applied(&files, Vec::new());
                let mut a = applied.lock();
                let p = std::mem::take(&mut a.pending);
                a.confirmed.extend(p);
            };
            loop {
                if k.load(Ordering::SeqCst) {
                    applied.lock().pending.clear();
                    return;
                }
                match rx.try_recv() {
                    Ok(
                        Input::App(_) | Input::Samples(_) | Input::Otlp(_) | Input::Reconfigure(_),
                    ) => {
                        unreachable!("the tailer sends lines")
                    }
                    Ok(Input::Lines(b)) => {
                        let ids = b.data.split_inclusive(|&c| c == b'\n').map(parse);
                        applied.lock().pending.extend(ids);
                        offsets.insert((b.identity.dev, b.identity.ino), FileCheckpoint::after(&b));
                        unacked += 1;
                        if unacked >= every {
                            ack(&offsets);
                            unacked = 0;
                        }
                    }
                    Err(mpsc::error::TryRecvError::Empty) => {
                        if unacked > 0 {
                            ack(&offsets);
                            unacked = 0;
                        }
                        std::thread::sleep(Duration::from_micros(500));
                    }
                    Err(mpsc::error::TryRecvError::Disconnected) => {
                        if unacked > 0 {
                            ack(&offsets);
                        }
                        return;
                    }
                }
            }
        });
        self.run = Some(Run {
            tailer: Some(tailer),
            apply: Some(apply),
            kill,
            health,
        });
    }

    fn end_run(&mut self, kill: bool) {
        let Some(mut run) = self.run.take() else {
            return;
        };
        if kill {
            run.kill.store(true, Ordering::SeqCst);
            run.apply.take().unwrap().join().unwrap();
            run.tailer.take().unwrap().abandon();
        } else {
            run.tailer.take().unwrap().stop();
            run.apply.take().unwrap().join().unwrap();
        }
        let known: HashSet<(u64, u64)> = self
            .state
            .load()
            .unwrap()
            .files
            .iter()
            .map(|f| (f.identity.dev, f.identity.ino))
            .collect();
        for (i, f) in self.files.iter_mut().enumerate() {
            if self.cur != Some(i) && !known.contains(&f.key) {
                f.unwitnessed = true;
            }
        }
        let health = run.health.files.lock();
        self.lost_counted += health.iter().map(|f| f.truncated_bytes_lost).sum::<u64>();
        self.missed_counted += health.iter().map(|f| f.missed_files).sum::<u64>();
    }

    /// Lines that must be applied by now.
    fn required(&self) -> Vec<LineId> {
        let mut v = Vec::new();
        for (fid, f) in self.files.iter().enumerate() {
            if !f.deleted && !f.unwitnessed {
                v.extend((f.lossy_below..f.written).map(|s| (fid as u32, s)));
            }
        }
        v
    }

    fn sync(&self) -> Result<(), String> {
        let need = self.required();
        let end = Instant::now() + Duration::from_secs(15);
        loop {
            {
                let a = self.applied.lock();
                let have: HashSet<&LineId> = a.confirmed.iter().chain(&a.pending).collect();
                let missing = need.iter().filter(|l| !have.contains(l)).count();
                if missing == 0 {
                    return Ok(());
                }
                if Instant::now() > end {
                    return Err(format!(
                        "{missing} lines never applied, e.g. {:?}",
                        need.iter().find(|l| !have.contains(l))
                    ));
                }
            }
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    /// Creates a new file where the log is (a new dated target, for a symlink).
    fn create(&mut self) {
        let fid = self.files.len();
        let path = match self.layout {
            Layout::Symlink => {
                self.targets += 1;
                let target = self.dir.path().join(format!("cur.log-{:04}", self.targets));
                let link = self.dir.path().join("tmp.link");
                let fd = append(&target);
                symlink(&target, &link).unwrap();
                fs::rename(&link, self.log()).unwrap();
                self.files.push(MFile::new(fd));
                self.cur = Some(fid);
                return;
            }
            _ => self.log(),
        };
        self.files.push(MFile::new(append(&path)));
        self.cur = Some(fid);
    }

    fn write(&mut self, i: usize, n: u32) {
        let f = &mut self.files[i];
        let text: String = (f.written..f.written + n)
            .map(|s| line(i as u32, s))
            .collect();
        f.fd.write_all(text.as_bytes()).unwrap();
        f.written += n;
    }

    fn apply(&mut self, op: Op) -> Result<(), String> {
        let old_writable = std::mem::take(&mut self.old_writable);
        match op {
            Op::Write(n) => {
                if self.cur.is_none() {
                    self.create();
                }
                self.write(self.cur.unwrap(), n);
            }
            Op::WriteOld(n) => {
                if let (true, Some(p)) = (old_writable, self.prev) {
                    if !self.files[p].deleted {
                        self.write(p, n);
                        self.old_writable = true;
                    }
                }
            }
            Op::Rotate | Op::RotateNoCreate => {
                if self.cur.is_none() {
                    return Ok(());
                }
                if self.layout == Layout::Symlink {
                    self.prev = self.cur;
                    self.create();
                } else {
                    rotate_numbered(&self.log());
                    self.prev = self.cur.take();
                    if matches!(op, Op::Rotate) {
                        self.create();
                    }
                }
                self.old_writable = true;
            }
            Op::Truncate => {
                if let Some(c) = self.cur {
                    let f = &mut self.files[c];
                    f.fd.set_len(0).unwrap();
                    f.lossy_below = f.written;
                }
            }
            Op::Delete => {
                if let Some(c) = self.cur.take() {
                    let path = fs::canonicalize(self.log()).unwrap();
                    fs::remove_file(path).unwrap();
                    self.files[c].deleted = true;
                    if self.layout == Layout::Symlink {
                        fs::remove_file(self.log()).unwrap();
                    }
                }
            }
            Op::Kill | Op::Restart => {
                self.old_writable = old_writable;
                self.end_run(matches!(op, Op::Kill));
                self.start();
            }
            Op::Sync => {
                self.old_writable = old_writable;
                self.sync()?;
            }
        }
        Ok(())
    }

    /// Checks what was applied against what was written.
    fn check(&self) -> Result<(), String> {
        let a = self.applied.lock();
        let mut seen = HashSet::new();
        let mut last: HashMap<u32, u32> = HashMap::new();
        for &(fid, seq) in &a.confirmed {
            if !seen.insert((fid, seq)) {
                return Err(format!("line {fid}/{seq} applied twice"));
            }
            if let Some(&prev) = last.get(&fid) {
                if seq <= prev {
                    return Err(format!("file {fid}: line {seq} applied after line {prev}"));
                }
            }
            last.insert(fid, seq);
            let written = self.files.get(fid as usize).map_or(0, |f| f.written);
            if seq >= written {
                return Err(format!("line {fid}/{seq} was never written"));
            }
        }
        let mut missing_lossy = 0u64;
        for (fid, f) in self.files.iter().enumerate() {
            for seq in 0..f.written {
                if seen.contains(&(fid as u32, seq)) {
                    continue;
                }
                if f.deleted || f.unwitnessed || seq < f.lossy_below {
                    missing_lossy += line(0, 0).len() as u64;
                    continue;
                }
                return Err(format!("line {fid}/{seq} lost"));
            }
        }
        // Only a file deleted before anything of it was read can be counted as missed.
        let deleted_unread = self
            .files
            .iter()
            .enumerate()
            .filter(|(fid, f)| f.deleted && !last.contains_key(&(*fid as u32)))
            .count() as u64;
        if self.missed_counted > deleted_unread {
            return Err(format!(
                "{} files counted as missed, only {deleted_unread} deleted unread",
                self.missed_counted
            ));
        }
        if self.lost_counted > missing_lossy {
            return Err(format!(
                "{} bytes counted as lost, only {missing_lossy} missing",
                self.lost_counted
            ));
        }
        Ok(())
    }
}

fn append(path: &Path) -> File {
    OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .unwrap()
}

fn ops(rng: &mut Rng) -> Vec<Op> {
    let len = 6 + rng.below(14);
    let mut v: Vec<Op> = (0..len)
        .map(|_| match rng.below(100) {
            0..=34 => Op::Write(1 + rng.below(60) as u32),
            35..=44 => Op::WriteOld(1 + rng.below(20) as u32),
            45..=56 => Op::Rotate,
            57..=60 => Op::RotateNoCreate,
            61..=65 => Op::Truncate,
            66..=70 => Op::Delete,
            71..=80 => Op::Kill,
            81..=86 => Op::Restart,
            _ => Op::Sync,
        })
        .collect();
    v.push(Op::Sync);
    v
}

fn run_case(seed: u64) -> Result<(), String> {
    let mut rng = Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1);
    let layout = match rng.below(3) {
        0 => Layout::Plain,
        1 => Layout::Glob,
        _ => Layout::Symlink,
    };
    let dir = match Path::new("/dev/shm").is_dir() {
        true => tempfile::tempdir_in("/dev/shm").unwrap(),
        false => tempfile::tempdir().unwrap(),
    };
    let state = StateDir::open(&dir.path().join("state")).unwrap();
    let ops = ops(&mut rng);
    let mut case = Case {
        dir,
        layout,
        state,
        files: Vec::new(),
        cur: None,
        prev: None,
        old_writable: false,
        targets: 0,
        applied: Arc::default(),
        run: None,
        lost_counted: 0,
        missed_counted: 0,
        ack_every: 1 + rng.below(3),
    };
    case.start();
    let mut result = Ok(());
    for (i, op) in ops.iter().enumerate() {
        if let Err(e) = case.apply(*op) {
            result = Err(format!("at op {i}: {e}"));
            break;
        }
    }
    case.end_run(false);
    result = result.and_then(|()| case.check());
    result.map_err(|e| format!("seed {seed} ({layout:?}): {e}\nops: {ops:?}"))
}

#[test]
fn tailer_against_model() {
    if let Some(seed) = std::env::var("KPID_MODEL_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
    {
        run_case(seed).unwrap_or_else(|e| panic!("{e}"));
        return;
    }
    let cases: u64 = std::env::var("KPID_MODEL_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(3000);
    let first: u64 = std::env::var("KPID_MODEL_FIRST_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1);
    let start = Instant::now();
    let mut failures = Vec::new();
    for seed in first..first + cases {
        if let Err(e) = run_case(seed) {
            eprintln!("{e}");
            failures.push(e);
            if failures.len() >= 3 {
                break;
            }
        }
    }
    eprintln!("{cases} model cases in {:?}", start.elapsed());
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

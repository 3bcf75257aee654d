//! The pipeline's processes: chosen by pid, by a pattern on their name or command line, or
//! as the tree under a root pid (`kpid run`'s child: new children followed, exited ones
//! dropped). Every tick reads only the tracked pids; the whole process table is scanned again
//! every few seconds to find new matches, and each tick asks the kernel for the tracked
//! processes' new children (`/proc/PID/task/PID/children`), so a tree's new processes are
//! followed from the next tick.
//!
//! Read from `/proc` directly (`proc_stat`): sysinfo's process refresh was measured to report
//! a process's CPU against the whole machine's time between its own refreshes, and to cost
//! more per tick; see BENCHMARKS.md. Per process (`process`, `pid` labels): CPU in cores (1.5
//! is one and a half cores), resident memory, threads, open files, bytes read and written;
//! and the totals over all tracked processes (`pipeline_*`), grandchildren included.

use super::proc_stat::{self, Stat};
use super::{Out, Sampler};
use regex::Regex;
use rustc_hash::FxHashMap;
use std::sync::atomic::{AtomicU32, Ordering::Relaxed};
use std::sync::Arc;
use std::time::Instant;

/// Which processes to follow.
#[derive(Debug, Clone, Default)]
pub struct ProcSelect {
    /// These pids.
    pub pids: Vec<u32>,
    /// Processes whose name or command line matches one of these.
    pub patterns: Vec<Regex>,
    /// The pid stored here (0: none yet) and all its descendants; `kpid run` stores its
    /// child's pid once it has started it.
    pub tree: Option<Arc<AtomicU32>>,
}

impl ProcSelect {
    /// Nothing selected.
    pub fn is_empty(&self) -> bool {
        self.pids.is_empty() && self.patterns.is_empty() && self.tree.is_none()
    }
}

/// Ticks between two scans of the whole process table, to find new processes matching a
/// pattern.
const RESCAN: u64 = 5;
/// Ticks between two scans when only a tree is followed (its new processes are found each
/// tick from the kernel's children lists; the scan is a backstop).
const RESCAN_TREE: u64 = 60;
/// Ticks between two looks at the children of every thread (each tick: main threads only).
const ALL_THREADS: u64 = 5;
/// Most processes followed at once.
const MAX_TRACKED: usize = 256;

/// What the last tick read of a tracked process.
#[derive(Debug, Clone)]
struct Prev {
    at: Instant,
    cpu_ticks: u64,
    read: u64,
    written: u64,
}

pub(crate) struct Procs {
    sel: ProcSelect,
    tracked: Vec<u32>,
    prev: FxHashMap<u32, Prev>,
    ticks: u64,
    over_cap: bool,
    root: u32,
    buf: String,
    /// The pids followed after the last tick, for the GPU sampler's per-process figures.
    followed: Arc<parking_lot::Mutex<Vec<u32>>>,
}

impl Procs {
    pub(crate) fn new(sel: ProcSelect, followed: Arc<parking_lot::Mutex<Vec<u32>>>) -> Procs {
        Procs {
            sel,
            tracked: Vec::new(),
            prev: FxHashMap::default(),
            ticks: 0,
            over_cap: false,
            root: 0,
            buf: String::new(),
            followed,
        }
    }

    /// Scans the whole table for what is selected.
    fn rescan(&mut self) {
        self.root = self.sel.tree.as_ref().map_or(0, |t| t.load(Relaxed));
        let table = proc_stat::table(&mut self.buf);
        let mut chosen: Vec<u32> = self
            .sel
            .pids
            .iter()
            .copied()
            .filter(|p| table.iter().any(|(q, _, _)| q == p))
            .collect();
        if !self.sel.patterns.is_empty() {
            for (pid, _, comm) in &table {
                let cmd = proc_stat::cmdline(*pid).unwrap_or_default();
                if self
                    .sel
                    .patterns
                    .iter()
                    .any(|r| r.is_match(comm) || r.is_match(&cmd))
                {
                    chosen.push(*pid);
                }
            }
        }
        if self.root != 0 && table.iter().any(|(p, _, _)| *p == self.root) {
            chosen.push(self.root);
            loop {
                let before = chosen.len();
                for (pid, ppid, _) in &table {
                    if chosen.contains(ppid) && !chosen.contains(pid) {
                        chosen.push(*pid);
                    }
                }
                if chosen.len() == before {
                    break;
                }
            }
        }
        chosen.sort_unstable();
        chosen.dedup();
        self.over_cap = chosen.len() > MAX_TRACKED;
        chosen.truncate(MAX_TRACKED);
        self.tracked = chosen;
    }

    /// Children started since the last scan, from the kernel's list of each tracked
    /// process's children (of its main thread, or of all its threads).
    fn new_children(&mut self, all_threads: bool) {
        let mut found = Vec::new();
        for pid in &self.tracked {
            for c in proc_stat::children(*pid, all_threads, &mut self.buf) {
                if !self.tracked.contains(&c) && !found.contains(&c) {
                    found.push(c);
                }
            }
        }
        if !found.is_empty() && self.tracked.len() + found.len() <= MAX_TRACKED {
            self.tracked.extend(found);
            self.tracked.sort_unstable();
        }
    }
}

impl Sampler for Procs {
    fn name(&self) -> &'static str {
        "procs"
    }

    fn unavailable(&self) -> Vec<String> {
        if self.over_cap {
            vec![format!("more than {MAX_TRACKED} processes selected: the first {MAX_TRACKED} by pid are followed")]
        } else {
            Vec::new()
        }
    }

    fn sample(&mut self, out: &mut Out<'_>) {
        let root = self.sel.tree.as_ref().map_or(0, |t| t.load(Relaxed));
        let every = if self.sel.patterns.is_empty() && self.sel.pids.is_empty() {
            RESCAN_TREE
        } else {
            RESCAN
        };
        if self.ticks % every == 0 || root != self.root {
            self.rescan();
        } else if root != 0 {
            self.new_children(self.ticks % ALL_THREADS == 0);
        }
        self.ticks += 1;
        let (mut cpu, mut rss, mut n, mut read, mut written) = (0.0, 0.0, 0.0, 0.0, 0.0);
        let mut alive = Vec::with_capacity(self.tracked.len());
        let tick = proc_stat::clock_ticks();
        for &pid in &self.tracked {
            let Some(st) = Stat::read(pid, &mut self.buf) else {
                self.prev.remove(&pid);
                continue; // exited
            };
            alive.push(pid);
            let now = Instant::now();
            let io = proc_stat::io(pid, &mut self.buf);
            let (r, w) = io.unwrap_or((0, 0));
            let prev = self.prev.insert(
                pid,
                Prev {
                    at: now,
                    cpu_ticks: st.cpu_ticks,
                    read: r,
                    written: w,
                },
            );
            let pid_s = pid.to_string();
            let l: [(&'static str, &str); 2] = [("process", &st.comm), ("pid", &pid_s)];
            if let Some(p) = &prev {
                let secs = now.duration_since(p.at).as_secs_f64().max(1e-3);
                let c = st.cpu_ticks.saturating_sub(p.cpu_ticks) as f64 / tick / secs;
                out.gauge(
                    "process_cpu_utilization_ratio",
                    &l,
                    "ratio",
                    "cpu in use by the process, in cores (1.5 = one and a half cores)",
                    c,
                );
                cpu += c;
                if io.is_some() {
                    let (dr, dw) = (
                        r.saturating_sub(p.read) as f64,
                        w.saturating_sub(p.written) as f64,
                    );
                    out.counter(
                        "process_io_read_bytes_total",
                        &l,
                        "bytes",
                        "bytes the process read from storage",
                        dr,
                    );
                    out.counter(
                        "process_io_written_bytes_total",
                        &l,
                        "bytes",
                        "bytes the process wrote to storage",
                        dw,
                    );
                    read += dr;
                    written += dw;
                }
            }
            out.gauge(
                "process_resident_memory_bytes",
                &l,
                "bytes",
                "resident memory of the process",
                st.rss_bytes as f64,
            );
            out.gauge(
                "process_threads",
                &l,
                "",
                "threads of the process",
                st.threads as f64,
            );
            if let Some(f) = proc_stat::open_fds(pid) {
                out.gauge(
                    "process_open_fds",
                    &l,
                    "",
                    "open file descriptors of the process",
                    f as f64,
                );
            }
            rss += st.rss_bytes as f64;
            n += 1.0;
        }
        self.tracked = alive;
        self.followed.lock().clone_from(&self.tracked);
        out.gauge(
            "pipeline_processes",
            &[],
            "",
            "processes of the pipeline followed",
            n,
        );
        out.gauge(
            "pipeline_cpu_utilization_ratio",
            &[],
            "ratio",
            "cpu in use by all the pipeline's processes, in cores",
            cpu,
        );
        out.gauge(
            "pipeline_resident_memory_bytes",
            &[],
            "bytes",
            "resident memory of all the pipeline's processes",
            rss,
        );
        out.counter(
            "pipeline_io_read_bytes_total",
            &[],
            "bytes",
            "bytes the pipeline's processes read from storage",
            read,
        );
        out.counter(
            "pipeline_io_written_bytes_total",
            &[],
            "bytes",
            "bytes the pipeline's processes wrote to storage",
            written,
        );
    }
}

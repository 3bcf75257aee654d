//! The pipeline's processes: chosen by pid, by a pattern on their name or command line, or
//! as the tree under a root pid (`kpid run`'s child: new children followed, exited ones
//! dropped). Every tick refreshes only the tracked pids; the whole process table is scanned
//! again every few seconds to find new matches and children.
//!
//! Per process (`process`, `pid` labels): CPU (cores in use, so 1.5 is one and a half
//! cores), resident memory, threads, open files, bytes read and written; and the totals over
//! all tracked processes (`pipeline_*`), grandchildren included.

use super::{Out, Sampler};
use regex::Regex;
use std::collections::HashSet;
use sysinfo::{Pid, ProcessRefreshKind, ProcessesToUpdate, System, UpdateKind};

/// Which processes to follow.
#[derive(Debug, Clone, Default)]
pub struct ProcSelect {
    /// These pids.
    pub pids: Vec<u32>,
    /// Processes whose name or command line matches one of these.
    pub patterns: Vec<Regex>,
    /// This pid and all its descendants.
    pub tree: Option<u32>,
}

impl ProcSelect {
    /// Nothing selected.
    pub fn is_empty(&self) -> bool {
        self.pids.is_empty() && self.patterns.is_empty() && self.tree.is_none()
    }
}

/// Ticks between two scans of the whole process table.
const RESCAN: u64 = 5;
/// Most processes followed at once.
const MAX_TRACKED: usize = 256;

pub(crate) struct Procs {
    sel: ProcSelect,
    sys: Option<System>,
    why: Option<String>,
    tracked: Vec<Pid>,
    ticks: u64,
    over_cap: bool,
}

impl Procs {
    pub(crate) fn new(sel: ProcSelect) -> Procs {
        let (sys, why) = match System::new() {
            Ok(s) => (Some(s), None),
            Err(e) => (None, Some(format!("processes: {e}"))),
        };
        Procs {
            sel,
            sys,
            why,
            tracked: Vec::new(),
            ticks: 0,
            over_cap: false,
        }
    }

    /// Scans the whole table (names, parents, command lines only) for what is selected.
    fn rescan(&mut self) {
        let Some(sys) = &mut self.sys else { return };
        let kind = ProcessRefreshKind::nothing()
            .without_tasks()
            .with_cmd(UpdateKind::OnlyIfNotSet);
        sys.refresh_processes_specifics(ProcessesToUpdate::All, true, kind);
        let procs = sys.processes();
        let mut chosen: HashSet<Pid> = self
            .sel
            .pids
            .iter()
            .map(|p| Pid::from_u32(*p))
            .filter(|p| procs.contains_key(p))
            .collect();
        if !self.sel.patterns.is_empty() {
            for (pid, p) in procs {
                if p.thread_kind().is_some() {
                    continue;
                }
                let name = p.name().to_string_lossy();
                let cmd = p
                    .cmd()
                    .iter()
                    .map(|a| a.to_string_lossy())
                    .collect::<Vec<_>>()
                    .join(" ");
                if self
                    .sel
                    .patterns
                    .iter()
                    .any(|r| r.is_match(&name) || r.is_match(&cmd))
                {
                    chosen.insert(*pid);
                }
            }
        }
        if let Some(root) = self.sel.tree.map(Pid::from_u32) {
            if procs.contains_key(&root) {
                chosen.insert(root);
                // Descendants: repeat until no process's parent is newly chosen.
                loop {
                    let before = chosen.len();
                    for (pid, p) in procs {
                        if p.thread_kind().is_none()
                            && p.parent().is_some_and(|pp| chosen.contains(&pp))
                        {
                            chosen.insert(*pid);
                        }
                    }
                    if chosen.len() == before {
                        break;
                    }
                }
            }
        }
        let mut v: Vec<Pid> = chosen.into_iter().collect();
        v.sort_unstable();
        self.over_cap = v.len() > MAX_TRACKED;
        v.truncate(MAX_TRACKED);
        self.tracked = v;
    }
}

impl Sampler for Procs {
    fn name(&self) -> &'static str {
        "procs"
    }

    fn unavailable(&self) -> Vec<String> {
        let mut v: Vec<String> = self.why.iter().cloned().collect();
        if self.over_cap {
            v.push(format!("more than {MAX_TRACKED} processes selected: the first {MAX_TRACKED} by pid are followed"));
        }
        v
    }

    fn sample(&mut self, out: &mut Out<'_>) {
        if self.ticks % RESCAN == 0 {
            self.rescan();
        }
        self.ticks += 1;
        let kind = ProcessRefreshKind::nothing()
            .with_cpu()
            .with_memory()
            .with_disk_usage()
            .with_tasks();
        let Some(sys) = &mut self.sys else { return };
        sys.refresh_processes_specifics(ProcessesToUpdate::Some(&self.tracked), true, kind);
        let (mut cpu, mut rss, mut n) = (0.0, 0.0, 0.0);
        let (mut read, mut written) = (0.0, 0.0);
        let mut alive = Vec::with_capacity(self.tracked.len());
        for pid in &self.tracked {
            let Some(p) = sys.process(*pid) else {
                continue; // exited: dropped from the next scan
            };
            alive.push(*pid);
            let name = p.name().to_string_lossy().into_owned();
            let pid_s = pid.to_string();
            let l: [(&'static str, &str); 2] = [("process", &name), ("pid", &pid_s)];
            let c = f64::from(p.cpu_usage()) / 100.0;
            let du = p.disk_usage();
            out.gauge(
                "process_cpu_utilization_ratio",
                &l,
                "ratio",
                "cpu in use by the process, in cores (1.5 = one and a half cores)",
                c,
            );
            out.gauge(
                "process_resident_memory_bytes",
                &l,
                "bytes",
                "resident memory of the process",
                p.memory() as f64,
            );
            if let Some(t) = p.tasks() {
                out.gauge(
                    "process_threads",
                    &l,
                    "",
                    "threads of the process",
                    t.len().max(1) as f64,
                );
            }
            if let Some(f) = p.open_files() {
                out.gauge(
                    "process_open_fds",
                    &l,
                    "",
                    "open file descriptors of the process",
                    f as f64,
                );
            }
            out.counter(
                "process_io_read_bytes_total",
                &l,
                "bytes",
                "bytes the process read from storage",
                du.read_bytes as f64,
            );
            out.counter(
                "process_io_written_bytes_total",
                &l,
                "bytes",
                "bytes the process wrote to storage",
                du.written_bytes as f64,
            );
            cpu += c;
            rss += p.memory() as f64;
            read += du.read_bytes as f64;
            written += du.written_bytes as f64;
            n += 1.0;
        }
        self.tracked = alive;
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

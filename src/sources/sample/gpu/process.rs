//! Per process on a GPU: its GPU memory (NVML's running compute processes) and its SM
//! utilisation since the last tick (NVML's process utilisation samples). NVML names
//! processes by their pid on the host; a pipeline in a container sees other pids, so each is
//! mapped through `/proc/PID/status` `NSpid` (its pid in its own, innermost namespace).

use super::super::Out;
use super::device::Dev;
use super::Failures;
use nvml_wrapper::enums::device::UsedGpuMemory;
use nvml_wrapper::error::NvmlError;
use nvml_wrapper::Device;
use rustc_hash::FxHashMap;

/// A process as the pipeline sees it: its pid in its own namespace, and its name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Seen {
    /// Pid in the process's innermost pid namespace.
    pub(crate) pid: u32,
    /// Its name (`comm`).
    pub(crate) name: String,
}

/// Reads `Name:` and the last `NSpid:` entry of `/proc/PID/status` (`None`: no such
/// process visible here; then the host pid and an empty name are used).
pub(crate) fn seen(host_pid: u32) -> Option<Seen> {
    let text = std::fs::read_to_string(format!("/proc/{host_pid}/status")).ok()?;
    Some(parse_status(&text, host_pid))
}

fn parse_status(text: &str, host_pid: u32) -> Seen {
    let mut s = Seen {
        pid: host_pid,
        name: String::new(),
    };
    for line in text.lines() {
        if let Some(n) = line.strip_prefix("Name:") {
            s.name = n.trim().to_owned();
        } else if let Some(ns) = line.strip_prefix("NSpid:") {
            if let Some(p) = ns.split_whitespace().last().and_then(|p| p.parse().ok()) {
                s.pid = p;
            }
        }
    }
    s
}

/// Processes seen on the GPUs, by host pid, so `/proc/PID/status` is read once per process
/// (again every `REREAD` ticks, for a name changed by exec); forgotten when off the GPUs.
#[derive(Debug, Default)]
pub(super) struct Names {
    map: FxHashMap<u32, (Seen, u64)>,
    tick: u64,
}

/// Ticks between two readings of a process's name and pid.
const REREAD: u64 = 60;

impl Names {
    fn get(&mut self, host_pid: u32) -> &Seen {
        let tick = self.tick;
        let e = self
            .map
            .entry(host_pid)
            .or_insert_with(|| (read(host_pid), tick));
        if tick.saturating_sub(e.1) >= REREAD {
            *e = (read(host_pid), tick);
        }
        &e.0
    }

    /// Ends a tick: forgets the processes no GPU listed in it.
    pub(super) fn end_tick(&mut self, listed: &[u32]) {
        self.tick += 1;
        self.map.retain(|p, _| listed.contains(p));
    }
}

fn read(host_pid: u32) -> Seen {
    seen(host_pid).unwrap_or(Seen {
        pid: host_pid,
        name: String::new(),
    })
}

/// This tick's per-process figures of one GPU; the host pids it lists are added to `listed`. `followed`: the pipeline's pids (as it sees
/// them), or `None` for every process on the GPU.
pub(super) fn sample(
    dev: &mut Dev,
    d: &Device<'static>,
    followed: Option<&[u32]>,
    names: &mut Names,
    listed: &mut Vec<u32>,
    out: &mut Out<'_>,
    fails: &mut Failures,
) {
    let (i, mig) = (dev.index, dev.mig);
    let Some(procs) = fails.check(i, mig, "processes", d.running_compute_processes()) else {
        return;
    };
    let utils = match d.process_utilization_stats(dev.util_ts) {
        Err(NvmlError::NotFound) => Some(Vec::new()), // no sample since the last tick
        r => fails.check(i, mig, "process_utilization", r),
    };
    let mut sm: FxHashMap<u32, (u64, u32)> = FxHashMap::default();
    if let Some(u) = &utils {
        for s in u {
            dev.util_ts = dev.util_ts.max(s.timestamp);
            let e = sm.entry(s.pid).or_insert((0, 0));
            if s.timestamp >= e.0 {
                *e = (s.timestamp, s.sm_util);
            }
        }
    }
    let gpu = dev.labels[0].as_str();
    for p in procs {
        listed.push(p.pid);
        let who = names.get(p.pid);
        if followed.is_some_and(|f| !f.contains(&who.pid) && !f.contains(&p.pid)) {
            continue;
        }
        let pid = who.pid.to_string();
        let l = [
            ("gpu", gpu),
            ("pid", pid.as_str()),
            ("process", who.name.as_str()),
        ];
        if let UsedGpuMemory::Used(b) = p.used_gpu_memory {
            out.gauge(
                "process_gpu_memory_bytes",
                &l,
                "bytes",
                "gpu memory used by the process",
                b as f64,
            );
        }
        if utils.is_some() {
            let u = sm.get(&p.pid).map_or(0, |(_, u)| *u);
            out.gauge(
                "process_gpu_sm_utilization_ratio",
                &l,
                "ratio",
                "time the gpu's sms ran the process's kernels since the last sample (0 to 1)",
                f64::from(u) / 100.0,
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nspid_maps_a_host_pid_to_the_innermost_namespace() {
        let s = parse_status("Name:\tinfer\nPid:\t4242\nNSpid:\t4242\t17\t1\n", 4242);
        assert_eq!(
            s,
            Seen {
                pid: 1,
                name: "infer".into()
            }
        );
        let s = parse_status("Name:\tinfer\nNSpid:\t4242\n", 4242);
        assert_eq!(s.pid, 4242);
    }
}

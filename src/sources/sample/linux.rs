//! Figures sysinfo does not give, read from the kernel directly: pressure stall information
//! (`/proc/pressure/*`, Linux 4.20+) and the limits of the cgroup (v2) kpid runs in, the
//! tightest of its own and its ancestors' (`cpu.max`, `memory.max`), as in a container.

use super::Out;
use std::path::{Path, PathBuf};

/// Does this kernel report pressure stall information?
pub(super) fn has_pressure() -> bool {
    Path::new("/proc/pressure/cpu").exists()
}

const PSI: [(&str, &str, &str); 3] = [
    (
        "cpu",
        "host_pressure_cpu_some_ratio",
        "host_pressure_cpu_full_ratio",
    ),
    (
        "memory",
        "host_pressure_memory_some_ratio",
        "host_pressure_memory_full_ratio",
    ),
    (
        "io",
        "host_pressure_io_some_ratio",
        "host_pressure_io_full_ratio",
    ),
];

/// `avg10` of a PSI line (`some avg10=1.23 avg60=... total=...`), as a ratio.
fn avg10(line: &str) -> Option<f64> {
    let v = line
        .split_whitespace()
        .find_map(|w| w.strip_prefix("avg10="))?;
    v.parse::<f64>().ok().map(|p| p / 100.0)
}

/// Share of the last 10 s some (or all) tasks waited for CPU, memory or I/O.
pub(super) fn pressure(out: &mut Out<'_>) {
    for (res, some, full) in PSI {
        let Ok(text) = std::fs::read_to_string(format!("/proc/pressure/{res}")) else {
            continue;
        };
        for line in text.lines() {
            let (name, help) = if line.starts_with("some") {
                (
                    some,
                    "share of the last 10 s some tasks waited for this resource",
                )
            } else if line.starts_with("full") {
                (
                    full,
                    "share of the last 10 s all non-idle tasks waited for this resource",
                )
            } else {
                continue;
            };
            if let Some(v) = avg10(line) {
                out.gauge(name, &[], "ratio", help, v);
            }
        }
    }
}

/// kpid's cgroup (v2) directory and its ancestors, innermost first.
fn cgroup_dirs() -> Vec<PathBuf> {
    let Ok(text) = std::fs::read_to_string("/proc/self/cgroup") else {
        return Vec::new();
    };
    let Some(rel) = text.lines().find_map(|l| l.strip_prefix("0::")) else {
        return Vec::new();
    };
    let mut dir = PathBuf::from("/sys/fs/cgroup").join(rel.trim_start_matches('/'));
    let mut dirs = Vec::new();
    while dir.starts_with("/sys/fs/cgroup") {
        dirs.push(dir.clone());
        if !dir.pop() {
            break;
        }
    }
    dirs
}

/// `cpu.max` (`QUOTA PERIOD` or `max PERIOD`) as cores.
pub(super) fn cpu_cores(text: &str) -> Option<f64> {
    let mut w = text.split_whitespace();
    let quota: f64 = w.next()?.parse().ok()?;
    let period: f64 = w.next()?.parse().ok()?;
    (period > 0.0).then_some(quota / period)
}

/// The cgroup's CPU quota and memory limit (the tightest along the path), and its memory use.
pub(super) fn cgroup(out: &mut Out<'_>) {
    let dirs = cgroup_dirs();
    let tightest = |file: &str, parse: &dyn Fn(&str) -> Option<f64>| {
        dirs.iter()
            .filter_map(|d| std::fs::read_to_string(d.join(file)).ok())
            .filter_map(|t| parse(t.trim()))
            .reduce(f64::min)
    };
    if let Some(c) = tightest("cpu.max", &cpu_cores) {
        out.gauge(
            "host_cgroup_cpu_limit_cores",
            &[],
            "",
            "cpu quota of kpid's cgroup, in cores",
            c,
        );
    }
    if let Some(m) = tightest("memory.max", &|t| t.parse::<f64>().ok()) {
        out.gauge(
            "host_cgroup_memory_limit_bytes",
            &[],
            "bytes",
            "memory limit of kpid's cgroup",
            m,
        );
    }
    if let Some(d) = dirs.first() {
        if let Some(m) = std::fs::read_to_string(d.join("memory.current"))
            .ok()
            .and_then(|t| t.trim().parse::<f64>().ok())
        {
            out.gauge(
                "host_cgroup_memory_used_bytes",
                &[],
                "bytes",
                "memory charged to kpid's cgroup",
                m,
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn psi_and_cpu_max_are_read() {
        assert_eq!(
            avg10("some avg10=12.50 avg60=1.00 avg300=0.00 total=5"),
            Some(0.125)
        );
        assert_eq!(avg10("full total=5"), None);
        assert_eq!(cpu_cores("200000 100000"), Some(2.0));
        assert_eq!(cpu_cores("max 100000"), None);
    }
}

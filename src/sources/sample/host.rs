//! The host: CPU (total and per core), load, memory and swap through sysinfo (built with only
//! its `system`, `disk` and `network` parts); disks (usage per mount, bytes read and written
//! per disk), network interfaces; pressure stall information and the cgroup's limits read
//! from the kernel directly (`linux`), as sysinfo has neither.

use super::linux;
use super::{Out, Sampler};
use rustc_hash::FxHashMap;
use sysinfo::{CpuRefreshKind, Disks, MemoryRefreshKind, Networks, RefreshKind, System};

/// Disks and interfaces are listed again this often (ticks); figures are read every tick.
const RELIST: u64 = 60;

pub(crate) struct Host {
    sys: Option<System>,
    disks: Option<Disks>,
    nets: Option<Networks>,
    /// Last totals of each counter, to send increments.
    last: FxHashMap<String, u64>,
    ticks: u64,
    cores: Vec<String>,
    unavailable: Vec<String>,
}

impl Host {
    pub(crate) fn new() -> Host {
        let mut unavailable = Vec::new();
        let kinds = RefreshKind::nothing()
            .with_cpu(CpuRefreshKind::nothing().with_usage())
            .with_memory(MemoryRefreshKind::everything());
        let sys = System::new_with_specifics(kinds)
            .map_err(|e| unavailable.push(format!("cpu and memory: {e}")))
            .ok();
        let disks = Disks::new_with_refreshed_list()
            .map_err(|e| unavailable.push(format!("disks: {e}")))
            .ok();
        let nets = Networks::new_with_refreshed_list()
            .map_err(|e| unavailable.push(format!("network: {e}")))
            .ok();
        if !linux::has_pressure() {
            unavailable
                .push("pressure stall information: not in this kernel (/proc/pressure)".into());
        }
        Host {
            sys,
            disks,
            nets,
            last: FxHashMap::default(),
            ticks: 0,
            cores: Vec::new(),
            unavailable,
        }
    }

    /// The increment of a running total since the last tick (0 the first time, or after a
    /// reset).
    fn delta(&mut self, key: &str, total: u64) -> f64 {
        match self.last.insert(key.to_owned(), total) {
            Some(prev) if total >= prev => (total - prev) as f64,
            _ => 0.0,
        }
    }
}

impl Sampler for Host {
    fn name(&self) -> &'static str {
        "host"
    }

    fn unavailable(&self) -> Vec<String> {
        self.unavailable.clone()
    }

    fn sample(&mut self, out: &mut Out<'_>) {
        self.ticks += 1;
        let relist = self.ticks % RELIST == 0;
        if let Some(sys) = &mut self.sys {
            sys.refresh_cpu_usage();
            sys.refresh_memory();
            // The first tick has no CPU figure yet (usage is a difference of two readings).
            if self.ticks > 1 {
                out.gauge(
                    "host_cpu_utilization_ratio",
                    &[],
                    "ratio",
                    "cpu time in use, all cores (0 to 1)",
                    f64::from(sys.global_cpu_usage()) / 100.0,
                );
                while self.cores.len() < sys.cpus().len() {
                    self.cores.push(self.cores.len().to_string());
                }
                for (i, c) in sys.cpus().iter().enumerate() {
                    out.gauge(
                        "host_cpu_core_utilization_ratio",
                        &[("cpu", &self.cores[i])],
                        "ratio",
                        "cpu time in use per core (0 to 1)",
                        f64::from(c.usage()) / 100.0,
                    );
                }
            }
            out.gauge(
                "host_cpu_cores",
                &[],
                "",
                "logical cpus",
                sys.cpus().len() as f64,
            );
            out.gauge(
                "host_memory_total_bytes",
                &[],
                "bytes",
                "memory installed",
                sys.total_memory() as f64,
            );
            out.gauge(
                "host_memory_used_bytes",
                &[],
                "bytes",
                "memory in use (total less available)",
                sys.total_memory().saturating_sub(sys.available_memory()) as f64,
            );
            out.gauge(
                "host_memory_available_bytes",
                &[],
                "bytes",
                "memory available to new work without swapping",
                sys.available_memory() as f64,
            );
            out.gauge(
                "host_swap_total_bytes",
                &[],
                "bytes",
                "swap space",
                sys.total_swap() as f64,
            );
            out.gauge(
                "host_swap_used_bytes",
                &[],
                "bytes",
                "swap in use",
                sys.used_swap() as f64,
            );
        }
        if let Ok(l) = System::load_average().map_err(|_| ()) {
            out.gauge(
                "host_load1",
                &[],
                "",
                "runnable tasks, 1 min average",
                l.one,
            );
            out.gauge(
                "host_load5",
                &[],
                "",
                "runnable tasks, 5 min average",
                l.five,
            );
            out.gauge(
                "host_load15",
                &[],
                "",
                "runnable tasks, 15 min average",
                l.fifteen,
            );
        }
        if let Some(mut disks) = self.disks.take() {
            disks.refresh(relist);
            let mut seen: Vec<String> = Vec::new();
            for d in &disks {
                let mount = d.mount_point().display().to_string();
                let dev = d.name().to_string_lossy().into_owned();
                if d.total_space() > 0 && !seen.contains(&mount) {
                    out.gauge(
                        "host_disk_total_bytes",
                        &[("mount", &mount)],
                        "bytes",
                        "filesystem size per mount",
                        d.total_space() as f64,
                    );
                    out.gauge(
                        "host_disk_used_bytes",
                        &[("mount", &mount)],
                        "bytes",
                        "filesystem space in use per mount",
                        d.total_space().saturating_sub(d.available_space()) as f64,
                    );
                    seen.push(mount.clone());
                }
                let u = d.usage();
                let r = self.delta(&format!("dr:{dev}:{mount}"), u.total_read_bytes);
                let w = self.delta(&format!("dw:{dev}:{mount}"), u.total_written_bytes);
                out.counter(
                    "host_disk_read_bytes_total",
                    &[("mount", &mount)],
                    "bytes",
                    "bytes read from the filesystem's device",
                    r,
                );
                out.counter(
                    "host_disk_written_bytes_total",
                    &[("mount", &mount)],
                    "bytes",
                    "bytes written to the filesystem's device",
                    w,
                );
            }
            self.disks = Some(disks);
        }
        if let Some(mut nets) = self.nets.take() {
            nets.refresh(relist);
            for (name, data) in &nets {
                let name = &*name.to_string_lossy();
                let rx = self.delta(&format!("rx:{name}"), data.total_received());
                let tx = self.delta(&format!("tx:{name}"), data.total_transmitted());
                out.counter(
                    "host_network_receive_bytes_total",
                    &[("interface", name)],
                    "bytes",
                    "bytes received per interface",
                    rx,
                );
                out.counter(
                    "host_network_transmit_bytes_total",
                    &[("interface", name)],
                    "bytes",
                    "bytes sent per interface",
                    tx,
                );
            }
            self.nets = Some(nets);
        }
        linux::pressure(out);
        linux::cgroup(out);
    }
}

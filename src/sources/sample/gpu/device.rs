//! One GPU's figures, each from its own NVML call, and XID errors from NVML events.

use super::super::Out;
use super::{Failures, ALL};
use nvml_wrapper::bitmasks::event::EventTypes;
use nvml_wrapper::enum_wrappers::device::{
    Clock, EccCounter, MemoryError, PcieUtilCounter, TemperatureSensor,
};
use nvml_wrapper::enums::event::XidError;
use nvml_wrapper::error::NvmlError;
use nvml_wrapper::{Device, EventSet, Nvml};

/// Most XID events read in one tick.
const MAX_EVENTS: usize = 256;

/// What is kept of one GPU between ticks.
#[derive(Debug)]
pub(super) struct Dev {
    pub(super) index: u32,
    /// `gpu`, `uuid`, `name`, `pci_bus_id`, `device` (as dcgm-exporter labels them).
    pub(super) labels: [String; 5],
    /// MIG mode enabled: figures NVML does not give for the whole GPU say so.
    pub(super) mig: bool,
    /// Timestamp of the newest process utilisation sample read.
    pub(super) util_ts: u64,
    ecc: [Option<u64>; 2],
    energy: Option<u64>,
    /// XID events registered for this GPU.
    xid: bool,
    xid_last: u64,
}

impl Dev {
    /// Names one GPU (what cannot be read is left empty).
    pub(super) fn open(nvml: &'static Nvml, index: u32) -> Dev {
        let mut dev = Dev {
            index,
            labels: [
                index.to_string(),
                String::new(),
                String::new(),
                String::new(),
                String::new(),
            ],
            mig: false,
            util_ts: 0,
            ecc: [None; 2],
            energy: None,
            xid: false,
            xid_last: 0,
        };
        if let Ok(d) = nvml.device_by_index(index) {
            dev.labels[1] = d.uuid().unwrap_or_default();
            dev.labels[2] = d.name().unwrap_or_default();
            dev.labels[3] = d.pci_info().map(|p| p.bus_id).unwrap_or_default();
            dev.labels[4] = d
                .minor_number()
                .map(|m| format!("nvidia{m}"))
                .unwrap_or_default();
            dev.mig = d.mig_mode().is_ok_and(|m| m.current == 1);
        }
        dev
    }

    /// This tick's figures of the GPU; `xids` are the XID events read this tick.
    pub(super) fn sample(
        &mut self,
        d: &Device<'static>,
        xids: &[(u32, u64)],
        out: &mut Out<'_>,
        fails: &mut Failures,
    ) {
        let (i, mig) = (self.index, self.mig);
        let labels = label_pairs(&self.labels);
        let l = &labels[..];
        let mut g = |name, unit, help, v: f64| out.gauge(name, l, unit, help, v);
        if let Some(u) = fails.check(i, mig, "utilization", d.utilization_rates()) {
            g(
                "gpu_utilization_ratio",
                "ratio",
                "time a kernel was running on the gpu (0 to 1)",
                f64::from(u.gpu) / 100.0,
            );
            g(
                "gpu_memory_utilization_ratio",
                "ratio",
                "time the gpu's memory was being read or written (0 to 1)",
                f64::from(u.memory) / 100.0,
            );
        }
        if let Some(m) = fails.check(i, mig, "memory", d.memory_info()) {
            g(
                "gpu_memory_used_bytes",
                "bytes",
                "gpu memory in use",
                m.used as f64,
            );
            g(
                "gpu_memory_free_bytes",
                "bytes",
                "gpu memory free",
                m.free as f64,
            );
            g(
                "gpu_memory_total_bytes",
                "bytes",
                "gpu memory installed",
                m.total as f64,
            );
        }
        if let Some(t) = fails.check(i, mig, "temperature", d.temperature(TemperatureSensor::Gpu)) {
            g(
                "gpu_temperature_celsius",
                "celsius",
                "gpu die temperature",
                f64::from(t),
            );
        }
        if let Some(p) = fails.check(i, mig, "power", d.power_usage()) {
            g(
                "gpu_power_watts",
                "watts",
                "power drawn by the gpu",
                f64::from(p) / 1000.0,
            );
        }
        if let Some(c) = fails.check(i, mig, "sm_clock", d.clock_info(Clock::SM)) {
            g(
                "gpu_clock_sm_hertz",
                "hertz",
                "sm clock",
                f64::from(c) * 1e6,
            );
        }
        if let Some(c) = fails.check(i, mig, "memory_clock", d.clock_info(Clock::Memory)) {
            g(
                "gpu_clock_memory_hertz",
                "hertz",
                "memory clock",
                f64::from(c) * 1e6,
            );
        }
        if let Some(x) = fails.check(i, mig, "pcie_tx", d.pcie_throughput(PcieUtilCounter::Send)) {
            g(
                "gpu_pcie_tx_bytes_per_second",
                "bytes/s",
                "pcie bytes sent by the gpu per second",
                f64::from(x) * 1024.0,
            );
        }
        if let Some(x) = fails.check(
            i,
            mig,
            "pcie_rx",
            d.pcie_throughput(PcieUtilCounter::Receive),
        ) {
            g(
                "gpu_pcie_rx_bytes_per_second",
                "bytes/s",
                "pcie bytes received by the gpu per second",
                f64::from(x) * 1024.0,
            );
        }
        if let Some(t) = fails.check(i, mig, "throttle_reasons", d.current_throttle_reasons()) {
            g(
                "gpu_throttle_reasons",
                "",
                "clock throttle reasons active (nvml bitmask; 0: none)",
                t.bits() as f64,
            );
        }
        if self.xid {
            let mut mine = xids.iter().filter(|(g, _)| *g == i);
            let n = mine.clone().count();
            if let Some((_, code)) = mine.next_back() {
                self.xid_last = *code;
            }
            g(
                "gpu_xid_last_code",
                "",
                "code of the last xid error (0: none since kpid started)",
                self.xid_last as f64,
            );
            out.counter(
                "gpu_xid_errors_total",
                l,
                "",
                "xid errors reported by the driver",
                n as f64,
            );
        }
        let energy = fails.check(i, mig, "energy", d.total_energy_consumption());
        if let Some(e) = energy {
            let inc = e.checked_sub(self.energy.unwrap_or(0)).unwrap_or(e);
            self.energy = Some(e);
            out.counter(
                "gpu_energy_joules_total",
                l,
                "joules",
                "energy used by the gpu",
                inc as f64 / 1000.0,
            );
        }
        for (k, (kind, err)) in [
            ("corrected", MemoryError::Corrected),
            ("uncorrected", MemoryError::Uncorrected),
        ]
        .into_iter()
        .enumerate()
        {
            let fig = if k == 0 {
                "ecc_corrected"
            } else {
                "ecc_uncorrected"
            };
            if let Some(n) = fails.check(i, mig, fig, d.total_ecc_errors(err, EccCounter::Volatile))
            {
                let inc = n.checked_sub(self.ecc[k].unwrap_or(0)).unwrap_or(n);
                self.ecc[k] = Some(n);
                let mut le = labels.to_vec();
                le.push(("type", kind));
                out.counter(
                    "gpu_ecc_errors_total",
                    &le,
                    "",
                    "ecc errors since the driver loaded (volatile), by type",
                    inc as f64,
                );
            }
        }
        out.gauge(
            "gpu_mig_enabled",
            l,
            "",
            "mig mode enabled (1) or not (0)",
            f64::from(u8::from(mig)),
        );
    }
}

/// The labels of a GPU's series.
fn label_pairs(l: &[String; 5]) -> [(&'static str, &str); 5] {
    [
        ("gpu", &l[0]),
        ("uuid", &l[1]),
        ("name", &l[2]),
        ("pci_bus_id", &l[3]),
        ("device", &l[4]),
    ]
}

/// An event set with every GPU that accepts XID events registered; the others are noted
/// as failures of `xid_errors`.
pub(super) fn xid_events(
    nvml: &'static Nvml,
    devs: &mut [Dev],
    fails: &mut Failures,
) -> Option<EventSet<'static>> {
    let mut set = fails.check(ALL, false, "xid_errors", nvml.create_event_set())?;
    for k in 0..devs.len() {
        let Ok(d) = nvml.device_by_index(devs[k].index) else {
            continue;
        };
        match d.register_events(EventTypes::CRITICAL_XID_ERROR, set) {
            Ok(s) => {
                devs[k].xid = true;
                set = s;
            }
            Err(e) => {
                let (i, mig) = (devs[k].index, devs[k].mig);
                fails.check::<()>(i, mig, "xid_errors", Err(e.error));
                // NVML freed the set: another, with the GPUs that accepted before.
                set = nvml.create_event_set().ok()?;
                for o in devs[..k].iter().filter(|o| o.xid) {
                    let d = nvml.device_by_index(o.index).ok()?;
                    set = d
                        .register_events(EventTypes::CRITICAL_XID_ERROR, set)
                        .ok()?;
                }
            }
        }
    }
    Some(set)
}

/// XID events since the last tick, as (GPU index, XID code).
pub(super) fn drain_xids(set: Option<&EventSet<'static>>, fails: &mut Failures) -> Vec<(u32, u64)> {
    let mut got = Vec::new();
    let Some(set) = set else { return got };
    for _ in 0..MAX_EVENTS {
        match set.wait(0) {
            Ok(ev) => {
                let code = match ev.event_data {
                    Some(XidError::Value(v)) => v,
                    _ => 999,
                };
                if let Ok(i) = ev.device.index() {
                    got.push((i, code));
                }
            }
            Err(NvmlError::Timeout) => break,
            Err(e) => {
                fails.check::<()>(ALL, false, "xid_errors", Err(e));
                break;
            }
        }
    }
    got
}

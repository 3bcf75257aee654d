//! NVIDIA GPUs through NVML (`libnvidia-ml`, opened at run time by `nvml-wrapper`: kpid
//! builds and runs without CUDA or a driver, and never spawns `nvidia-smi`).
//!
//! Per GPU (`gpu`, `uuid`, `name`, `pci_bus_id`, `device` labels): utilisation, memory used,
//! free and total, temperature, power and energy, SM and memory clocks, PCIe throughput, the
//! clock throttle reasons, ECC error counts and XID errors (NVML events); per process of the
//! pipeline its GPU memory and SM utilisation, host pids mapped to the pids the pipeline sees
//! (`NSpid`). The same figures are exposed under dcgm-exporter's names on `/metrics`
//! (`server::dcgm`).
//!
//! Absence (no library, no driver, a version mismatch, no GPU) is one line in health, with
//! its reason, and initialisation is tried again every minute. A call that fails degrades
//! its figure only: the figure is left out (never shown as 0) and listed once in health with
//! the reason, e.g. utilisation on a GPU in MIG mode.

mod device;
mod process;

use super::{Out, Sampler};
use nvml_wrapper::error::NvmlError;
use nvml_wrapper::{EventSet, Nvml};
use parking_lot::Mutex;
use std::collections::BTreeMap;
use std::ffi::OsString;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Time between two attempts to initialise NVML while it is unavailable.
const RETRY: Duration = Duration::from_secs(60);

/// The "GPU" of a failure that concerns them all.
pub(super) const ALL: u32 = u32::MAX;

/// Figures that failed, by GPU and figure: the reason and how many ticks failed.
#[derive(Debug, Default)]
pub(super) struct Failures {
    map: BTreeMap<(u32, &'static str), (String, u64)>,
}

impl Failures {
    /// The value of a call, or `None` with the failure noted against `figure` of GPU `gpu`.
    pub(super) fn check<T>(
        &mut self,
        gpu: u32,
        mig: bool,
        figure: &'static str,
        r: Result<T, NvmlError>,
    ) -> Option<T> {
        match r {
            Ok(v) => {
                if !self.map.is_empty() {
                    self.map.remove(&(gpu, figure));
                }
                Some(v)
            }
            Err(e) => {
                let slot = self.map.entry((gpu, figure)).or_insert_with(|| {
                    let mut why = reason(&e);
                    if mig && matches!(e, NvmlError::NotSupported) {
                        why.push_str(" with MIG enabled");
                    }
                    tracing::debug!("gpu {gpu}: {figure}: {why}");
                    (why, 0)
                });
                slot.1 += 1;
                None
            }
        }
    }

    fn lines(&self) -> impl Iterator<Item = String> + '_ {
        self.map.iter().map(|((gpu, fig), (why, n))| match *gpu {
            ALL => format!("gpus: {fig}: {why} ({n} ticks)"),
            g => format!("gpu {g}: {fig}: {why} ({n} ticks)"),
        })
    }
}

/// What a failed NVML call means, in a few lowercase words.
pub(super) fn reason(e: &NvmlError) -> String {
    match e {
        NvmlError::NotSupported => "not supported".into(),
        NvmlError::NoPermission => "no permission".into(),
        NvmlError::DriverNotLoaded => "the nvidia driver is not loaded".into(),
        NvmlError::GpuLost => "gpu lost (fell off the bus)".into(),
        NvmlError::FunctionNotFound => {
            "not in this driver's library (driver too old for the call)".into()
        }
        NvmlError::LibloadingError(l) => format!("library: {l}"),
        NvmlError::FailedToLoadSymbol(s) => format!("library: symbol missing: {s}"),
        NvmlError::LibraryNotFound => "libnvidia-ml not found".into(),
        NvmlError::LibRmVersionMismatch => "driver and library versions differ".into(),
        e => e.to_string().to_lowercase(),
    }
}

/// The GPU sampler.
pub(crate) struct Gpu {
    /// `libnvidia-ml` to open (`None`: the system's).
    lib: Option<OsString>,
    /// The initialised library, kept for the life of the process once it worked.
    nvml: Option<&'static Nvml>,
    /// Why NVML is unavailable, while it is.
    down: Option<String>,
    next_try: Instant,
    devices: Vec<device::Dev>,
    /// XID events of every GPU that accepted them.
    events: Option<EventSet<'static>>,
    fails: Failures,
    /// The pipeline's processes (from the procs sampler), or `None`: every process on a GPU.
    followed: Option<Arc<Mutex<Vec<u32>>>>,
    names: process::Names,
    listed: Vec<u32>,
}

impl Gpu {
    pub(crate) fn new(lib: Option<OsString>, followed: Option<Arc<Mutex<Vec<u32>>>>) -> Gpu {
        Gpu {
            lib,
            nvml: None,
            down: None,
            next_try: Instant::now(),
            devices: Vec::new(),
            events: None,
            fails: Failures::default(),
            followed,
            names: process::Names::default(),
            listed: Vec::new(),
        }
    }

    /// Opens the library and the GPUs; on failure, says why once and waits a minute.
    fn init(&mut self) {
        let now = Instant::now();
        if now < self.next_try {
            return;
        }
        self.next_try = now + RETRY;
        match self.open() {
            Ok(()) => {
                if self.down.take().is_some() {
                    tracing::info!("gpu: available again");
                }
                tracing::info!("gpu: {} device(s) sampled through nvml", self.devices.len());
            }
            Err(why) => {
                if self.down.as_deref() != Some(why.as_str()) {
                    tracing::info!("gpu: unavailable ({why}); trying again every minute");
                } else {
                    tracing::debug!("gpu: still unavailable ({why})");
                }
                self.down = Some(why);
            }
        }
    }

    fn open(&mut self) -> Result<(), String> {
        let mut b = Nvml::builder();
        if let Some(p) = &self.lib {
            b.lib_path(p);
        }
        let nvml = b.init().map_err(|e| format!("nvml init: {}", reason(&e)))?;
        let n = nvml
            .device_count()
            .map_err(|e| format!("nvml device count: {}", reason(&e)))?;
        if n == 0 {
            return Err("no nvidia gpu found".into());
        }
        // Kept for the life of the process: devices and event sets borrow it, and NVML is
        // initialised once (a retry happens only while this never succeeded).
        let nvml: &'static Nvml = Box::leak(Box::new(nvml));
        self.devices = (0..n).map(|i| device::Dev::open(nvml, i)).collect();
        self.events = device::xid_events(nvml, &mut self.devices, &mut self.fails);
        self.nvml = Some(nvml);
        Ok(())
    }
}

impl Sampler for Gpu {
    fn name(&self) -> &'static str {
        "gpu"
    }

    fn unavailable(&self) -> Vec<String> {
        if let Some(why) = &self.down {
            return vec![format!("gpu: unavailable ({why})")];
        }
        self.fails.lines().collect()
    }

    fn sample(&mut self, out: &mut Out<'_>) {
        if self.nvml.is_none() {
            self.init();
        }
        let Some(nvml) = self.nvml else { return };
        let xids = device::drain_xids(self.events.as_ref(), &mut self.fails);
        let followed = self.followed.as_ref().map(|f| f.lock().clone());
        self.listed.clear();
        for dev in &mut self.devices {
            let handle = nvml.device_by_index(dev.index);
            let Some(handle) = self.fails.check(dev.index, dev.mig, "handle", handle) else {
                continue;
            };
            dev.sample(&handle, &xids, out, &mut self.fails);
            let (names, listed) = (&mut self.names, &mut self.listed);
            let f = followed.as_deref();
            process::sample(dev, &handle, f, names, listed, out, &mut self.fails);
        }
        self.names.end_tick(&self.listed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failure_is_listed_once_with_its_reason_until_the_call_works_again() {
        let mut f = Failures::default();
        for _ in 0..3 {
            assert_eq!(
                f.check::<u32>(1, true, "utilization", Err(NvmlError::NotSupported)),
                None
            );
        }
        assert_eq!(
            f.check(0, false, "power", Err::<u32, _>(NvmlError::NoPermission)),
            None
        );
        let lines: Vec<String> = f.lines().collect();
        assert_eq!(
            lines,
            [
                "gpu 0: power: no permission (1 ticks)",
                "gpu 1: utilization: not supported with MIG enabled (3 ticks)"
            ]
        );
        assert_eq!(f.check(1, true, "utilization", Ok(7)), Some(7));
        assert_eq!(f.lines().count(), 1);
    }
}

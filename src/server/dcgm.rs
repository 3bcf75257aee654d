//! The GPU figures again under dcgm-exporter's names and labels (`DCGM_FI_DEV_GPU_UTIL{gpu,
//! UUID, pci_bus_id, device, modelName, Hostname}` ...), so Grafana dashboards made for
//! dcgm-exporter work unchanged. They are rendered here, at exposition time, from the `gpu_*`
//! KPIs the engine holds: no second copy in the store, nothing extra on the dashboard.

use crate::kpi::{self, Kind};
use crate::kpi::{KpiView, Snapshot};
use std::fmt::Write;
use std::sync::OnceLock;

/// How a dcgm-exporter field is made from a kpid KPI.
struct Alias {
    /// kpid's KPI.
    kpi: &'static str,
    /// Only the series with this `type` label (ECC counts).
    ty: Option<&'static str>,
    /// dcgm-exporter's name.
    dcgm: &'static str,
    /// Multiplier from kpid's base unit to DCGM's.
    scale: f64,
    /// DCGM reports an integer (truncated).
    int: bool,
    help: &'static str,
}

const fn a(
    kpi: &'static str,
    dcgm: &'static str,
    scale: f64,
    int: bool,
    help: &'static str,
) -> Alias {
    Alias {
        kpi,
        ty: None,
        dcgm,
        scale,
        int,
        help,
    }
}

const MIB: f64 = 1.0 / 1_048_576.0;

const ALIASES: [Alias; 17] = [
    a(
        "gpu_clock_sm_hertz",
        "DCGM_FI_DEV_SM_CLOCK",
        1e-6,
        true,
        "SM clock frequency (in MHz).",
    ),
    a(
        "gpu_clock_memory_hertz",
        "DCGM_FI_DEV_MEM_CLOCK",
        1e-6,
        true,
        "Memory clock frequency (in MHz).",
    ),
    a(
        "gpu_temperature_celsius",
        "DCGM_FI_DEV_GPU_TEMP",
        1.0,
        true,
        "GPU temperature (in C).",
    ),
    a(
        "gpu_power_watts",
        "DCGM_FI_DEV_POWER_USAGE",
        1.0,
        false,
        "Power draw (in W).",
    ),
    a(
        "gpu_energy_joules_total",
        "DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION",
        1000.0,
        true,
        "Total energy consumption since boot (in mJ).",
    ),
    a(
        "gpu_utilization_ratio",
        "DCGM_FI_DEV_GPU_UTIL",
        100.0,
        true,
        "GPU utilization (in %).",
    ),
    a(
        "gpu_memory_utilization_ratio",
        "DCGM_FI_DEV_MEM_COPY_UTIL",
        100.0,
        true,
        "Memory utilization (in %).",
    ),
    a(
        "gpu_memory_free_bytes",
        "DCGM_FI_DEV_FB_FREE",
        MIB,
        true,
        "Framebuffer memory free (in MiB).",
    ),
    a(
        "gpu_memory_used_bytes",
        "DCGM_FI_DEV_FB_USED",
        MIB,
        true,
        "Framebuffer memory used (in MiB).",
    ),
    a(
        "gpu_memory_total_bytes",
        "DCGM_FI_DEV_FB_TOTAL",
        MIB,
        true,
        "Framebuffer memory total (in MiB).",
    ),
    a(
        "gpu_pcie_tx_bytes_per_second",
        "DCGM_FI_DEV_PCIE_TX_THROUGHPUT",
        1.0 / 1024.0,
        true,
        "PCIe transmit throughput (in KB/s).",
    ),
    a(
        "gpu_pcie_rx_bytes_per_second",
        "DCGM_FI_DEV_PCIE_RX_THROUGHPUT",
        1.0 / 1024.0,
        true,
        "PCIe receive throughput (in KB/s).",
    ),
    a(
        "gpu_throttle_reasons",
        "DCGM_FI_DEV_CLOCK_THROTTLE_REASONS",
        1.0,
        true,
        "Current clock throttle reasons (bitmask).",
    ),
    a(
        "gpu_xid_last_code",
        "DCGM_FI_DEV_XID_ERRORS",
        1.0,
        true,
        "Value of the last XID error encountered.",
    ),
    Alias {
        ty: Some("corrected"),
        ..a(
            "gpu_ecc_errors_total",
            "DCGM_FI_DEV_ECC_SBE_VOL_TOTAL",
            1.0,
            true,
            "Total number of single-bit volatile ECC errors.",
        )
    },
    Alias {
        ty: Some("uncorrected"),
        ..a(
            "gpu_ecc_errors_total",
            "DCGM_FI_DEV_ECC_DBE_VOL_TOTAL",
            1.0,
            true,
            "Total number of double-bit volatile ECC errors.",
        )
    },
    a(
        "gpu_mig_enabled",
        "DCGM_FI_DEV_MIG_MODE",
        1.0,
        true,
        "MIG mode enabled (1) or not (0).",
    ),
];

/// This machine's name, as dcgm-exporter's `Hostname` label.
fn hostname() -> &'static str {
    static H: OnceLock<String> = OnceLock::new();
    H.get_or_init(|| {
        std::fs::read_to_string("/proc/sys/kernel/hostname")
            .map(|s| s.trim().to_owned())
            .unwrap_or_default()
    })
}

fn label<'a>(k: &'a KpiView, name: &str) -> &'a str {
    k.desc
        .labels
        .iter()
        .find(|(n, _)| n == name)
        .map_or("", |(_, v)| v.as_str())
}

/// Appends the dcgm-exporter families of the GPU KPIs in `snap` (nothing without a GPU).
pub fn write(snap: &Snapshot, out: &mut String) {
    let gpus: Vec<&KpiView> = snap
        .kpis
        .iter()
        .filter(|k| k.desc.name.starts_with("gpu_"))
        .map(|k| &**k)
        .collect();
    if gpus.is_empty() {
        return;
    }
    for al in &ALIASES {
        let mut head = false;
        for k in gpus.iter().filter(|k| k.desc.name == al.kpi) {
            if al.ty.is_some_and(|t| label(k, "type") != t) {
                continue;
            }
            let (raw, ty) = match k.desc.kind {
                Kind::Counter => (k.total, "counter"),
                _ => (k.last, "gauge"),
            };
            if !head {
                let _ = writeln!(
                    out,
                    "# HELP {} {}\n# TYPE {} {ty}",
                    al.dcgm, al.help, al.dcgm
                );
                head = true;
            }
            let v = raw * al.scale;
            let v = if al.int { (v + 1e-9).floor() } else { v };
            out.push_str(al.dcgm);
            kpi::write_labels(
                out,
                [
                    ("gpu", label(k, "gpu")),
                    ("UUID", label(k, "uuid")),
                    ("pci_bus_id", label(k, "pci_bus_id")),
                    ("device", label(k, "device")),
                    ("modelName", label(k, "name")),
                    ("Hostname", hostname()),
                ],
            );
            let _ = writeln!(out, " {v}");
        }
    }
}

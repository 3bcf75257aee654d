//! The host and process samplers against the built binary: host KPIs present and plausible
//! (CPU between 0 and 1 per core, memory used at most the total, one series per core), a
//! process chosen by pattern followed, and each sampler's health reported.

mod common;

use common::Kpid;

#[test]
fn host_kpis_are_present_and_plausible_and_a_process_is_followed_by_pattern() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("kpid.toml"),
        "[sample]\ninterval = \"200ms\"\nprocesses = [\"^kpid$\"]\n",
    )
    .unwrap();
    let k = Kpid::start(
        dir.path(),
        &["--config", "kpid.toml", "--no-state", "--no-socket"],
    );
    let v = |id: &str| k.latest(id).and_then(|x| x["value"].as_f64());
    let cpu = common::wait_for(10, "host cpu", || v("host_cpu_utilization_ratio"));
    assert!((0.0..=1.0).contains(&cpu), "{cpu}");
    let cores = v("host_cpu_cores").unwrap();
    assert!(cores >= 1.0);
    for c in 0..cores as usize {
        let id = format!("host_cpu_core_utilization_ratio{{cpu=\"{c}\"}}");
        let x = v(&id).unwrap_or_else(|| panic!("{id}"));
        assert!((0.0..=1.0).contains(&x), "{id} = {x}");
    }
    let (used, total) = (
        v("host_memory_used_bytes").unwrap(),
        v("host_memory_total_bytes").unwrap(),
    );
    assert!(used > 0.0 && used <= total, "{used} of {total}");
    let pid = k.child.id();
    let rss = common::wait_for(10, "kpid's own process", || {
        v(&format!(
            "process_resident_memory_bytes{{pid=\"{pid}\",process=\"kpid\"}}"
        ))
    });
    assert!(rss > 1e6, "{rss}");
    let h = k.json("/api/health");
    let names: Vec<&str> = h["samplers"]["samplers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["host", "procs", "gpu"], "{h}");
    let (_, metrics) = k.get("/metrics");
    assert!(metrics.contains("# TYPE host_network_receive_bytes_total counter"));
}

//! A real Prometheus server scrapes kpid's `/metrics` and answers queries with kpid's values.

mod common;

use common::{append, http_get, wait_for, Kpid};
use std::process::{Command, Stdio};

#[test]
fn prometheus_scrapes_kpid() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("scraped.log");
    append(&log, "");
    let k = Kpid::start(
        dir.path(),
        &["--log", "scraped.log", "--no-state", "--from-start"],
    );
    for i in 0..42 {
        append(&log, &format!("level=warn msg=slow latency_ms={i}\n"));
    }
    let prom_port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let cfg = dir.path().join("prometheus.yml");
    std::fs::write(
        &cfg,
        format!("global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: kpid\n    static_configs:\n      - targets: ['127.0.0.1:{}']\n", k.port),
    )
    .unwrap();
    let mut prom = Command::new("prometheus")
        .arg(format!("--config.file={}", cfg.display()))
        .arg(format!("--storage.tsdb.path={}", dir.path().join("tsdb").display()))
        .arg(format!("--web.listen-address=127.0.0.1:{prom_port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("prometheus must be installed (Debian package `prometheus`; scripts/deps.sh installs it)");
    let query =
        "/api/v1/query?query=log_lines_total%7Bsource%3D%22scraped%22%2Clevel%3D%22warn%22%7D";
    let value = wait_for(60, "prometheus to scrape 42 lines", || {
        let (status, body) = std::panic::catch_unwind(|| http_get(prom_port, query)).ok()?;
        if status != 200 {
            return None;
        }
        let v: serde_json::Value = serde_json::from_str(&body).ok()?;
        let val = v["data"]["result"][0]["value"][1].as_str()?.to_owned();
        (val == "42").then_some(val)
    });
    assert_eq!(value, "42");
    // The scrape itself is healthy: Prometheus reports the target up with no errors.
    let (_, targets) = http_get(prom_port, "/api/v1/targets");
    let t: serde_json::Value = serde_json::from_str(&targets).unwrap();
    let target = &t["data"]["activeTargets"][0];
    assert_eq!(target["health"], "up", "{target}");
    assert_eq!(target["lastError"], "", "{target}");
    let _ = prom.kill();
    let _ = prom.wait();
}

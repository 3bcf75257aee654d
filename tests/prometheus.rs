//! A real Prometheus server scrapes kpid's `/metrics` and answers queries with kpid's values,
//! and `promtool check metrics` (its lint included) passes on the exposition of the demo, of a
//! daemon with plugins loaded and of zero-config KPIs (issue 8, item 6).

mod common;
mod plugin_support;

use common::{append, http_get, promtool_check, wait_for, Kpid};
use plugin_support::{install, plugin_dir, workspace_plugin};
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

/// The sample lines of an exposition (no `# HELP` / `# TYPE`).
fn samples(body: &str) -> String {
    body.lines()
        .filter(|l| !l.starts_with('#'))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Waits until `/metrics` holds every one of `names`; returns the body.
fn metrics_with(port: u16, names: &[&str]) -> String {
    wait_for(60, &format!("/metrics to hold {names:?}"), || {
        let (status, body) = http_get(port, "/metrics");
        (status == 200 && names.iter().all(|n| body.contains(n))).then_some(body)
    })
}

/// A running `kpid demo`, killed on drop.
struct Demo(Child);

impl Drop for Demo {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn promtool_check_metrics_passes_on_the_demo() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_kpid"))
        .args(["demo", "--port", "0"])
        .current_dir(dir.path())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn kpid demo");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let demo = Demo(child);
    let port: u16 = lines
        .by_ref()
        .map_while(Result::ok)
        .find_map(|l| {
            let url = l.split("http://").nth(1)?;
            url.split(['/', ' '])
                .next()?
                .rsplit(':')
                .next()?
                .parse()
                .ok()
        })
        .expect("kpid demo printed its dashboard address");
    let body = metrics_with(
        port,
        &[
            "e2e_latency_seconds_count",
            "frames_in_per_second{",
            "gpu_mem_bytes{",
            "gpu_temp_celsius{",
            "gpu_util_percent{",
            "span_duration_seconds",
        ],
    );
    assert!(!samples(&body).contains("gpu_mem_mb"), "{body}");
    promtool_check(&body);
    drop(demo);
}

#[test]
fn promtool_check_metrics_passes_with_nginx_and_runner_plugins_loaded() {
    let dir = plugin_dir();
    install(&workspace_plugin("nginx"), dir.path(), "nginx.so");
    install(&workspace_plugin("runner"), dir.path(), "runner.so");
    let access = dir.path().join("access.log");
    let runner = dir.path().join("runner.log");
    let mut a = String::new();
    let mut r = String::new();
    for i in 0..70 {
        a.push_str(&format!("10.0.0.{} - - [23/Nov/2026:10:00:{:02} +0000] \"GET /api/v1/items HTTP/1.1\" 200 {} \"-\" \"curl/8.11.0\" 2500\n", i % 9, i % 60, 100 + i));
        r.push_str(&format!(
            "[GIN] 2024/12/03 - 10:30:{:02} | 200 |  1.{i}s | 127.0.0.1 | POST \"/api/generate\"\n",
            i % 60
        ));
        r.push_str("       eval time =    3563.12 ms /   110 tokens (   32.39 ms per token,    30.87 tokens per second)\n");
    }
    std::fs::write(&access, a).unwrap();
    std::fs::write(&runner, r).unwrap();
    std::fs::write(
        dir.path().join("kpid.toml"),
        format!(
            "plugin_dir = \"{}\"\n[[source]]\nname = \"web\"\npath = \"{}\"\nparser = \"nginx\"\noptions = \"request_time=us\"\n\n[[source]]\nname = \"llm\"\npath = \"{}\"\nparser = \"runner\"\n\n[[rule]]\nname = \"http_requests\"\nkind = \"counter\"\nlabels = [\"status\", \"method\"]\n\n[[rule]]\nname = \"request_time\"\nkind = \"distribution\"\nfield = \"request_time\"\nunit = \"s\"\n",
            dir.path().display(),
            access.display(),
            runner.display()
        ),
    )
    .unwrap();
    let k = Kpid::start(
        dir.path(),
        &["--config", "kpid.toml", "--no-state", "--from-start"],
    );
    let body = metrics_with(
        k.port,
        &[
            "kpid_plugin_lines_total{",
            "kpid_plugin_parse_seconds_per_line{",
            "http_requests_total{",
            "request_time_seconds_count",
            "eval_tokens_per_second{",
        ],
    );
    assert!(!samples(&body).contains("ns_per_line"), "{body}");
    promtool_check(&body);
}

/// Issue 8.6: `latency_ms`, `gpu_mem_mb` failed promtool's lint ("abbreviated units") and
/// `tokens_per_s` was taken for seconds.
#[test]
fn promtool_check_metrics_passes_on_zero_config_latency_ms_gpu_mem_mb_tokens_per_s() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("app.log");
    append(&log, "");
    let k = Kpid::start(
        dir.path(),
        &["--log", "app.log", "--no-state", "--from-start"],
    );
    append(
        &log,
        concat!(
            r#"{"ts":"2026-11-23T10:00:00Z","level":"info","latency_ms":250,"gpu_mem_mb":512,"tokens_per_s":880,"queue_len":3,"temp_c":61.5,"cpu_pct":42,"gpuUtil":77,"retry_count":2,"bytes_total":9,"stage":{"infer_ms":4}}"#,
            "\n",
            "2026-11-23T10:00:01Z WARN stats latency_ms=300 gpu_mem_mb=640 tokens_per_s=900 queue_len=4 temp_c=62 cpu_pct=40 took=12ms req_per_sec=15 fps=30 heap_gib=1\n",
        ),
    );
    let body = metrics_with(
        k.port,
        &[
            "latency_seconds{",
            "gpu_mem_bytes{",
            "tokens_per_second{",
            "queue_len{",
            "temp_celsius{",
            "cpu_percent{",
            "took_seconds{",
            "req_per_second{",
            "frames_per_second{",
            "heap_bytes{",
            "stage_infer_seconds{",
        ],
    );
    let value = |name: &str| -> f64 {
        body.lines()
            .find(|l| l.starts_with(&format!("{name}{{")))
            .and_then(|l| l.rsplit(' ').next()?.parse().ok())
            .unwrap_or_else(|| panic!("no {name} in\n{body}"))
    };
    // Latency-like fields are distributions (issue 14): their sum is 0.25 + 0.3 s.
    assert_eq!(value("latency_seconds_sum"), 0.55);
    assert_eq!(value("gpu_mem_bytes"), 640e6);
    assert_eq!(value("tokens_per_second"), 900.0);
    assert_eq!(value("took_seconds_sum"), 0.012);
    assert_eq!(value("heap_bytes"), 1_073_741_824.0);
    for bad in [
        "latency_ms",
        "gpu_mem_mb",
        "tokens_per_s{",
        "temp_c{",
        "cpu_pct",
    ] {
        assert!(
            !samples(&body).contains(bad),
            "{bad} still exposed:\n{body}"
        );
    }
    let (_, kpis) = k.get("/api/kpis");
    let kpis: serde_json::Value = serde_json::from_str(&kpis).unwrap();
    let unit = |name: &str| {
        kpis["kpis"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["name"] == name)
            .map(|e| e["unit"].as_str().unwrap_or("").to_owned())
            .unwrap_or_else(|| panic!("no {name} in /api/kpis"))
    };
    assert_eq!(unit("tokens_per_second"), "/s");
    assert_eq!(unit("latency_seconds"), "s");
    assert_eq!(unit("gpu_mem_bytes"), "bytes");
    assert_eq!(unit("cpu_percent"), "%");
    promtool_check(&body);
}

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

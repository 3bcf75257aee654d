//! Remote-write to a real Prometheus (`--web.enable-remote-write-receiver`, issue 11 item 4):
//! kpid tails a log and pushes every KPI; Prometheus answers queries with the values
//! `/metrics` shows, under the same names and labels; while Prometheus is down the samples
//! queue, and after it restarts on the same storage they arrive, with nothing lost or doubled.
//! The Grafana dashboard shipped in docs/grafana is checked here too.

mod common;

use common::{append, http_get, wait_for, Kpid};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

/// A Prometheus with its remote-write receiver on, killed by its pid on drop.
struct Prometheus {
    child: Child,
    port: u16,
}

impl Prometheus {
    fn start(dir: &Path, port: u16) -> Prometheus {
        Prometheus::launch(dir, port, true)
    }

    /// Starts it (with its remote-write receiver or not) and waits until it is ready.
    fn launch(dir: &Path, port: u16, receiver: bool) -> Prometheus {
        let cfg = dir.join("prometheus.yml");
        std::fs::write(&cfg, "global:\n  scrape_interval: 15s\n").unwrap();
        let child = Command::new("prometheus")
            .arg(format!("--config.file={}", cfg.display()))
            .arg(format!("--storage.tsdb.path={}", dir.join("tsdb").display()))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .args(receiver.then_some("--web.enable-remote-write-receiver"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("prometheus must be installed (Debian package `prometheus`; scripts/deps.sh installs it)");
        let p = Prometheus { child, port };
        wait_for(60, "prometheus to be ready", || {
            let r = std::panic::catch_unwind(|| http_get(port, "/-/ready")).ok()?;
            (r.0 == 200).then_some(())
        });
        p
    }

    fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// `/api/v1/query`'s result array at `time` (now when None).
    fn query(&self, q: &str, time: Option<f64>) -> Vec<Value> {
        let mut path = format!("/api/v1/query?query={}", encode(q));
        if let Some(t) = time {
            path += &format!("&time={t:.3}");
        }
        let (status, body) = http_get(self.port, &path);
        assert_eq!(status, 200, "{q}: {body}");
        let v: Value = serde_json::from_str(&body).unwrap();
        v["data"]["result"].as_array().cloned().unwrap_or_default()
    }
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        self.kill();
    }
}

fn encode(q: &str) -> String {
    q.bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
}

fn num(s: &str) -> f64 {
    match s {
        "NaN" => f64::NAN,
        "+Inf" => f64::INFINITY,
        "-Inf" => f64::NEG_INFINITY,
        s => s.parse().unwrap_or_else(|_| panic!("not a number: {s}")),
    }
}

type Series = BTreeMap<String, String>;

/// The KPI sample lines of an exposition (kpid's own `kpid_*` figures left out: they move by
/// themselves): labels with `__name__`, and values. Empty label values are left out, as a
/// scrape or a remote-write does.
fn kpi_samples(exposition: &str) -> Vec<(Series, f64)> {
    let mut out = Vec::new();
    for line in exposition.lines() {
        if line.starts_with('#') || line.starts_with("kpid_") || line.is_empty() {
            continue;
        }
        let (series, value) = line.rsplit_once(' ').unwrap();
        let (name, labels) = series.split_once('{').unwrap_or((series, "}"));
        let mut m = Series::from([("__name__".to_owned(), name.to_owned())]);
        for kv in labels.trim_end_matches('}').split("\",") {
            if let Some((k, v)) = kv.split_once("=\"") {
                let v = v.trim_end_matches('"');
                if !v.is_empty() {
                    m.insert(k.to_owned(), v.to_owned());
                }
            }
        }
        out.push((m, num(value)));
    }
    out
}

fn labels_of(r: &Value) -> Series {
    r["metric"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_owned()))
        .collect()
}

fn receiver(k: &Kpid) -> Value {
    let h = k.json("/api/health");
    h["remote_write"]["receivers"][0].clone()
}

fn config(dir: &Path, prom_port: u16) -> PathBuf {
    let path = dir.join("kpid.toml");
    std::fs::write(
        &path,
        format!(
            "[[rule]]\nname = \"request_time\"\nkind = \"distribution\"\nfield = \"latency_ms\"\nunit = \"ms\"\n\n\
             [[rule]]\nname = \"batch_size\"\nkind = \"distribution\"\nfield = \"batch\"\nbuckets = [1, 4, 16]\n\n\
             [remote_write]\nurl = \"http://127.0.0.1:{prom_port}/api/v1/write\"\ninterval = \"500ms\"\ntimeout = \"2s\"\n\
             external_labels = {{ job = \"kpid-test\", instance = \"host-a\" }}\n"
        ),
    )
    .unwrap();
    path
}

/// A Prometheus (with its receiver or not), and a kpid remote-writing to it every 500 ms
/// while it tails `app.log`, which starts with `first`.
fn setup(receiver: bool, first: &str) -> (tempfile::TempDir, Prometheus, PathBuf, Kpid) {
    let dir = tempfile::tempdir().unwrap();
    let prom = Prometheus::launch(dir.path(), free_port(), receiver);
    let log = dir.path().join("app.log");
    append(&log, first);
    config(dir.path(), prom.port);
    let k = Kpid::start(
        dir.path(),
        &[
            "--config",
            "kpid.toml",
            "--log",
            "app.log",
            "--no-state",
            "--from-start",
        ],
    );
    (dir, prom, log, k)
}

#[test]
fn prometheus_receives_every_kpi_and_the_samples_of_a_period_it_was_down() {
    let (dir, mut prom, log, k) = setup(true, "");
    let prom_port = prom.port;
    for i in 0..10 {
        append(
            &log,
            &format!(
                "level=warn msg=slow latency_ms={} batch={}\n",
                10 * (i + 1),
                i % 5
            ),
        );
    }
    append(&log, "level=info msg=ok latency_ms=5 batch=2\n");
    let warn = "log_lines_total{job=\"kpid-test\",instance=\"host-a\",level=\"warn\"}";
    wait_for(60, "10 warn lines in prometheus", || {
        let r = prom.query(warn, None);
        (r.first()?["value"][1] == "10").then_some(())
    });

    // Every KPI series `/metrics` shows is in Prometheus, same name, labels and value.
    let (mut missing, mut checked) = (Vec::new(), 0);
    let ok = common::try_wait(30, || {
        let (_, body) = k.get("/metrics");
        let want = kpi_samples(&body);
        let got: BTreeMap<Series, f64> = prom
            .query("{job=\"kpid-test\"}", None)
            .iter()
            .map(|r| {
                let mut l = labels_of(r);
                l.remove("job");
                l.remove("instance");
                (l, num(r["value"][1].as_str().unwrap()))
            })
            .collect();
        missing = want
            .iter()
            .filter(|(s, v)| {
                got.get(s)
                    .is_none_or(|g| !(g == v || g.is_nan() && v.is_nan()))
            })
            .map(|(s, v)| format!("{s:?} = {v} (prometheus: {:?})", got.get(s)))
            .collect();
        checked = want.len();
        missing.is_empty()
    });
    assert!(ok, "series differ:\n{}", missing.join("\n"));
    let names: Vec<String> = kpi_samples(&k.get("/metrics").1)
        .into_iter()
        .map(|(s, _)| s["__name__"].clone() + s.get("quantile").map_or("", |_| "{quantile}"))
        .collect();
    for n in [
        "log_lines_total",
        "host_memory_used_bytes",
        "request_time_seconds{quantile}",
        "request_time_seconds_sum",
        "request_time_seconds_count",
        "batch_size_bucket",
    ] {
        assert!(names.iter().any(|x| x == n), "{n} not among {names:?}");
    }
    assert!(checked >= 10, "{checked}");
    // kpid's own figures go out too (the dashboard's health panels use them).
    assert!(!prom
        .query(
            "kpid_remote_write_samples_sent_total{job=\"kpid-test\"}",
            None
        )
        .is_empty());

    // Prometheus goes down: the samples queue and are retried.
    prom.kill();
    let down = now();
    for _ in 0..5 {
        append(&log, "level=warn msg=slow latency_ms=7 batch=1\n");
    }
    wait_for(30, "retries and a queue while prometheus is down", || {
        let r = receiver(&k);
        (r["retries"].as_u64()? >= 2
            && r["queued_batches"].as_u64()? >= 3
            && r["state"] == "retrying")
            .then_some(())
    });
    std::thread::sleep(std::time::Duration::from_secs(1));
    let up = now();
    let prom = Prometheus::start(dir.path(), prom_port);
    wait_for(60, "the queue to drain", || {
        let r = receiver(&k);
        (r["queued_batches"] == 0 && r["state"] == "ok").then_some(())
    });

    // The samples of the period it was down are there, in order, with the values of then.
    let window = format!("{warn}[{}ms]", ((up - down) * 1000.0) as u64);
    let raw = prom.query(&window, Some(up));
    let values = raw[0]["values"].as_array().unwrap();
    let points: Vec<(f64, f64)> = values
        .iter()
        .map(|p| (p[0].as_f64().unwrap(), num(p[1].as_str().unwrap())))
        .collect();
    assert!(
        points.len() as f64 >= (up - down) / 0.5 - 2.0,
        "{} samples over {:.1}s down: {points:?}",
        points.len(),
        up - down
    );
    assert!(
        points
            .windows(2)
            .all(|w| w[0].0 < w[1].0 && w[0].1 <= w[1].1),
        "{points:?}"
    );
    assert_eq!(points.last().unwrap().1, 15.0, "{points:?}");
    assert!(
        points.iter().all(|p| p.1 == 10.0 || p.1 == 15.0),
        "{points:?}"
    );

    // Counts: nothing dropped or refused; every sample kpid counts as sent is stored once.
    let r = receiver(&k);
    assert_eq!(r["dropped_samples"], 0, "{r}");
    assert_eq!(r["refused_samples"], 0, "{r}");
    assert_eq!(
        r["url"],
        format!("http://127.0.0.1:{prom_port}/api/v1/write")
    );
    assert!(
        r["last_error"]["error"]
            .as_str()
            .unwrap()
            .contains("cannot connect"),
        "{r}"
    );
    let stored = |prom: &Prometheus| -> Option<u64> {
        let r = prom.query("{job=\"kpid-test\"}[1h]", None);
        Some(
            r.iter()
                .map(|s| s["values"].as_array().map_or(0, |v| v.len() as u64))
                .sum(),
        )
    };
    wait_for(
        30,
        "prometheus to hold exactly the samples kpid sent",
        || {
            let before = receiver(&k)["samples_sent"].as_u64()?;
            let n = stored(&prom)?;
            let after = receiver(&k)["samples_sent"].as_u64()?;
            (before == after && n == before).then_some(())
        },
    );
}

#[test]
fn a_short_job_under_kpid_run_is_sent_when_it_ends() {
    // The interval is far longer than the job: only the flush at shutdown can send its lines.
    let dir = tempfile::tempdir().unwrap();
    let prom_port = free_port();
    let prom = Prometheus::start(dir.path(), prom_port);
    std::fs::write(
        dir.path().join("kpid.toml"),
        format!(
            "[remote_write]\nurl = \"http://127.0.0.1:{prom_port}/api/v1/write\"\ninterval = \"1h\"\n\
             external_labels = {{ job = \"short-job\" }}\n"
        ),
    )
    .unwrap();
    let status = Command::new(env!("CARGO_BIN_EXE_kpid"))
        .args([
            "run",
            "--config",
            "kpid.toml",
            "--no-state",
            "--no-socket",
            "--port",
            "0",
            "--",
        ])
        .args([
            "sh",
            "-c",
            "for i in 1 2 3; do echo level=error msg=boom; done; sleep 0.5",
        ])
        .current_dir(dir.path())
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .status()
        .unwrap();
    assert!(status.success());
    let r = prom.query(
        "sum(log_lines_total{job=\"short-job\",level=\"error\"})",
        None,
    );
    assert_eq!(r.len(), 1, "nothing received from the short job");
    assert_eq!(r[0]["value"][1], "3", "{r:?}");
}

#[test]
fn a_receiver_that_refuses_batches_is_counted_not_retried() {
    // Prometheus without its receiver answers 404 to /api/v1/write: a 4xx, so each batch is
    // dropped and counted as refused, and health says so.
    let (_dir, _prom, _log, k) = setup(false, "level=info msg=x\n");
    let r = wait_for(60, "refused batches", || {
        let r = receiver(&k);
        (r["refused_batches"].as_u64()? >= 2).then_some(r)
    });
    assert_eq!(r["state"], "dropping", "{r}");
    assert_eq!(r["samples_sent"], 0, "{r}");
    assert!(r["refused_samples"].as_u64().unwrap() >= 2, "{r}");
    assert!(
        r["last_error"]["error"].as_str().unwrap().contains("404"),
        "{r}"
    );
    let h = k.json("/api/health");
    assert_ne!(h["status"], "ok", "{h}");
}

#[test]
fn the_grafana_dashboard_is_valid_json_and_queries_exposed_names() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/grafana/kpid-dashboard.json");
    let text = std::fs::read_to_string(&path).unwrap();
    let d: Value = serde_json::from_str(&text).unwrap();
    let vars: Vec<&str> = d["templating"]["list"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["name"].as_str().unwrap())
        .collect();
    assert_eq!(vars, ["datasource", "job", "instance"]);
    let panels = d["panels"].as_array().unwrap();
    let exprs: Vec<&str> = panels
        .iter()
        .flat_map(|p| p["targets"].as_array().into_iter().flatten())
        .map(|t| t["expr"].as_str().unwrap())
        .collect();
    for name in [
        "log_lines_total",
        "kpid_source_parse_errors_total",
        "span_duration_seconds",
        "kpid_remote_write_dropped_samples_total",
        "gpu_utilization_ratio",
    ] {
        assert!(
            exprs.iter().any(|e| e.contains(name)),
            "no panel queries {name}"
        );
    }
    for e in &exprs {
        assert!(
            e.contains("job=~\"$job\"") && e.contains("instance=~\"$instance\""),
            "{e}"
        );
    }
    for p in panels.iter().filter(|p| p["type"] != "row") {
        assert_eq!(p["datasource"]["uid"], "${datasource}", "{}", p["title"]);
    }
}

//! The report against the built binary: lines become history, `/report` makes one HTML file of
//! the window, and that file, opened from disk by headless Chromium with no network, draws
//! its summary table and its charts; `kpid report --state-dir` makes it from the files, with
//! the alerts of the window.

mod common;

use common::{append, wait_for, Kpid};
use std::process::Command;

#[test]
fn a_report_of_the_window_opens_offline_with_its_charts() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("app.log");
    append(&log, "");
    let k = Kpid::start(
        dir.path(),
        &["--log", "app.log", "--state-dir", "state", "--from-start"],
    );
    for i in 0..40 {
        append(
            &log,
            &format!("INFO frame done queue={} latency_ms={}\n", i % 5, 10 + i),
        );
    }
    wait_for(15, "the lines in history", || {
        let v = k.json("/api/metrics/history?kpi=log_lines_total&last=120");
        let n: f64 = v["series"].as_array()?.first()?["value"]
            .as_array()?
            .iter()
            .filter_map(|x| x.as_f64())
            .sum();
        (n > 0.0).then_some(())
    });
    let (status, html) = k.get("/report?title=Night%20shift&from=0");
    assert_eq!(
        status, 400,
        "a window longer than a year is refused: {html}"
    );
    let (status, html) = k.get("/report?title=Night%20shift");
    assert_eq!(status, 200, "{html}");
    assert!(html.starts_with("<!doctype html>"));
    assert!(!html.contains(" src=\"http"), "nothing to fetch");
    let data = data_of(&html);
    assert_eq!(data["title"], "Night shift");
    let kpis = data["kpis"].as_array().unwrap();
    let lines = kpis
        .iter()
        .find(|k| k["name"] == "log_lines_total")
        .expect("log_lines_total in the report");
    assert_eq!(lines["summary"]["total"], 40.0, "{lines}");
    let lat = kpis
        .iter()
        .find(|k| k["name"] == "latency_seconds")
        .expect("latency_seconds in the report");
    let p50 = lat["summary"]["p50"].as_f64().unwrap();
    assert!((p50 - 0.0295).abs() < 0.002, "median of 10..49 ms: {p50}");
    assert_eq!(lat["summary"]["max"], 0.049);

    // `kpid report` asks the running kpid for the same file.
    let cli = Command::new(env!("CARGO_BIN_EXE_kpid"))
        .args([
            "report",
            "--addr",
            &format!("127.0.0.1:{}", k.port),
            "--title",
            "From the CLI",
        ])
        .output()
        .unwrap();
    assert!(
        cli.status.success(),
        "{}",
        String::from_utf8_lossy(&cli.stderr)
    );
    let from_cli = String::from_utf8_lossy(&cli.stdout);
    assert!(from_cli.starts_with("<!doctype html>") && from_cli.contains("From the CLI"));
    let bad = Command::new(env!("CARGO_BIN_EXE_kpid"))
        .args([
            "report",
            "--addr",
            &format!("127.0.0.1:{}", k.port),
            "--from",
            "tomorrow",
        ])
        .output()
        .unwrap();
    assert!(!bad.status.success());
    assert!(
        String::from_utf8_lossy(&bad.stderr).contains("invalid `from`"),
        "{}",
        String::from_utf8_lossy(&bad.stderr)
    );

    // Opened from disk, with no network: the script draws the table and a chart per KPI.
    let dom = offline_dom(dir.path(), &html);
    let canvases = dom.matches("<canvas").count();
    assert!(
        canvases >= kpis.len().min(5),
        "{canvases} charts for {} KPIs",
        kpis.len()
    );
    assert!(dom.contains("log_lines_total") || dom.contains("log lines total"));
    assert!(dom.contains("Night shift"));
}

/// The report's JSON data.
fn data_of(html: &str) -> serde_json::Value {
    let start = html.find(r#"type="application/json">"#).unwrap() + 24;
    let end = start + html[start..].find("</script>").unwrap();
    serde_json::from_str(&html[start..end]).unwrap()
}

/// The report written to `dir/report.html`, opened from disk by headless Chromium with no
/// network: the DOM once its script ran.
fn offline_dom(dir: &std::path::Path, html: &str) -> String {
    let file = dir.join("report.html");
    std::fs::write(&file, html).unwrap();
    let chromium = std::env::var("KPID_CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    let profile = tempfile::tempdir().unwrap();
    let out = Command::new(&chromium)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--proxy-server=127.0.0.1:9",
            "--virtual-time-budget=5000",
            "--dump-dom",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg(format!("file://{}", file.display()))
        .output()
        .unwrap_or_else(|e| panic!("run {chromium}: {e} (apt-get install -y chromium)"));
    let dom = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        dom.contains(r#"data-ready="1""#),
        "the report's script ran: {}",
        &dom[..dom.len().min(400)]
    );
    dom
}

/// `kpid report --state-dir` reads the history files itself (with the daemon running, and
/// after it stopped), and the report lists the alerts of the window from the stored state
/// changes.
#[test]
fn a_report_made_from_the_files_lists_the_alerts_of_the_window() {
    let (dir, log) = common::follow_a(
        "[history]\nflush = \"200ms\"\n[[alert]]\nname = \"TempHigh\"\nkpi = \"temp\"\nwarn = 10\ncrit = 40\n",
    );
    let mut k = Kpid::start(
        dir.path(),
        &["--config", "k.toml", "--state-dir", "state", "--no-socket"],
    );
    let changes = |k: &Kpid| -> usize {
        k.json("/api/alerts/history")["events"]
            .as_array()
            .map_or(0, |v| v.len())
    };
    append(&log, "temp=50\n");
    wait_for(10, "firing", || (changes(&k) >= 1).then_some(()));
    append(&log, "temp=1\n");
    wait_for(10, "resolved", || (changes(&k) >= 2).then_some(()));
    let report = |title: &str| -> String {
        let out = Command::new(env!("CARGO_BIN_EXE_kpid"))
            .args([
                "report",
                "--state-dir",
                "state",
                "--config",
                "k.toml",
                "--title",
                title,
            ])
            .current_dir(dir.path())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    let running = data_of(&report("while running"));
    k.terminate();
    let html = report("after the stop");
    let data = data_of(&html);
    for d in [&running, &data] {
        let alerts = d["alerts"].as_array().unwrap();
        assert_eq!(alerts.len(), 1, "{d}");
        let a = &alerts[0];
        assert_eq!(a["name"], "TempHigh");
        assert_eq!(a["severity"], "critical");
        assert_eq!(a["labels"]["source"], "a");
        assert_eq!(a["value"], 50.0);
        assert!(
            a["to"].as_f64().unwrap() > a["from"].as_f64().unwrap(),
            "{a}"
        );
        let temp = d["kpis"]
            .as_array()
            .unwrap()
            .iter()
            .find(|k| k["name"] == "temp")
            .expect("temp in the report");
        assert_eq!(temp["summary"]["max"], 50.0);
    }
    let dom = offline_dom(dir.path(), &html);
    assert!(
        dom.contains("TempHigh") && dom.contains("critical"),
        "the alerts table"
    );
    // No history there: a clear error.
    let out = Command::new(env!("CARGO_BIN_EXE_kpid"))
        .args(["report", "--data-dir", "nowhere"])
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("no history there"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

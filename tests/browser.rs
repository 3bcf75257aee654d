//! Browser test of the dashboard: runs `kpid demo` on a free port, then drives Debian's headless
//! Chromium through playwright-core (`tests/browser/dashboard.mjs`), which waits for the live
//! connection, checks cards and charts, sees a chart's last point change, checks the console
//! stayed clean and saves a screenshot under cargo's target directory
//! (`target/tmp/screenshots/dashboard.png`): the test changes no tracked file. Then
//! `tests/browser/layout.mjs` checks the layout and the charts' cursor, exports and zoom on
//! the same demo, and on a `[dashboard]` config. The README's
//! picture, `docs/screenshot.png`, is refreshed on request by `scripts/screenshot.sh`.
//!
//! Needs `node`/`npm` and `/usr/bin/chromium` (or `KPID_CHROMIUM`); without them it fails,
//! saying what to install. `npm ci` runs in `tests/browser` when its node_modules is missing.
//! `KPID_SCREENSHOT` overrides where the screenshot goes.

mod common;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Kills the daemon however the test ends.
struct Daemon {
    child: Child,
    dir: tempfile::TempDir,
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Daemon {
    fn log(&self) -> String {
        let read =
            |name: &str| std::fs::read_to_string(self.dir.path().join(name)).unwrap_or_default();
        let tail = |s: String| {
            s.lines()
                .rev()
                .take(40)
                .collect::<Vec<_>>()
                .into_iter()
                .rev()
                .collect::<Vec<_>>()
                .join("\n")
        };
        format!(
            "--- kpid stdout ---\n{}\n--- kpid stderr ---\n{}",
            tail(read("stdout.log")),
            tail(read("stderr.log"))
        )
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .expect("bind an ephemeral port")
        .local_addr()
        .expect("local addr")
        .port()
}

/// Status line and body of a plain HTTP/1.1 GET, or None when nothing answers yet.
fn http_get(port: u16, path: &str) -> Option<(String, String)> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut buf = Vec::new();
    s.read_to_end(&mut buf).ok()?;
    let text = String::from_utf8_lossy(&buf).into_owned();
    let status = text.lines().next()?.to_string();
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    Some((status, body))
}

fn require_tools(browser_dir: &Path) {
    let node = Command::new("node").arg("--version").output();
    assert!(
        matches!(&node, Ok(o) if o.status.success()),
        "node is missing: the browser test needs Node.js 18+ and npm (apt-get install -y nodejs npm)"
    );
    let chromium = std::env::var("KPID_CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    assert!(
        Path::new(&chromium).exists(),
        "chromium is missing at {chromium}: the browser test needs Debian's headless Chromium (apt-get install -y chromium) or KPID_CHROMIUM"
    );
    if !browser_dir
        .join("node_modules/playwright-core/package.json")
        .exists()
    {
        let out = Command::new("npm")
            .args(["ci", "--no-audit", "--no-fund"])
            .current_dir(browser_dir)
            .output()
            .expect("npm is missing: the browser test needs npm (apt-get install -y npm)");
        assert!(
            out.status.success(),
            "npm ci in {} failed:\n{}\n{}",
            browser_dir.display(),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

fn start_demo(port: u16) -> Daemon {
    let dir = tempfile::tempdir().expect("temp dir");
    let stdout = std::fs::File::create(dir.path().join("stdout.log")).expect("stdout log");
    let stderr = std::fs::File::create(dir.path().join("stderr.log")).expect("stderr log");
    let child = Command::new(env!("CARGO_BIN_EXE_kpid"))
        .args(["demo", "--port", &port.to_string()])
        .current_dir(dir.path())
        .stdin(Stdio::null())
        .stdout(stdout)
        .stderr(stderr)
        .spawn()
        .expect("start kpid demo");
    let mut d = Daemon { child, dir };
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Some((status, _)) = http_get(port, "/api/health") {
            if status.contains(" 200") {
                return d;
            }
        }
        if let Ok(Some(st)) = d.child.try_wait() {
            panic!(
                "kpid demo exited ({st}) before serving /api/health\n{}",
                d.log()
            );
        }
        assert!(
            Instant::now() < deadline,
            "kpid demo did not serve /api/health on port {port} within 60 s\n{}",
            d.log()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Starts kpid in a temp dir on `k.toml` (`[server]` with `token` and a 250 ms interval, then
/// `rest`) and an empty `app.log` (state in `state/`, no app socket) on a free port, once it
/// answers `/api/health`.
fn start_with_config(token: &str, rest: &str) -> (u16, Daemon) {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(dir.path().join("app.log"), "").unwrap();
    let server = format!("[server]\ntoken = \"{token}\"\ninterval = \"250ms\"\n\n");
    std::fs::write(dir.path().join("k.toml"), server + rest).unwrap();
    let port = free_port();
    let log = |n: &str| std::fs::File::create(dir.path().join(n)).unwrap();
    let child = Command::new(env!("CARGO_BIN_EXE_kpid"))
        .args(["--config", "k.toml", "--state-dir", "state", "--no-socket"])
        .args(["--port", &port.to_string()])
        .current_dir(dir.path())
        .stdin(Stdio::null())
        .stdout(log("stdout.log"))
        .stderr(log("stderr.log"))
        .spawn()
        .expect("start kpid");
    let daemon = Daemon { child, dir };
    let deadline = Instant::now() + Duration::from_secs(30);
    while !http_get(port, "/api/health").is_some_and(|(s, _)| s.contains(" 200")) {
        assert!(
            Instant::now() < deadline,
            "kpid did not start\n{}",
            daemon.log()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    (port, daemon)
}

#[test]
fn dashboard_goes_live_and_charts_move() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let browser_dir = root.join("tests/browser");
    require_tools(&browser_dir);

    let port = free_port();
    let daemon = start_demo(port);
    let (status, body) = http_get(port, "/").expect("GET /");
    assert!(
        status.contains(" 200"),
        "GET / answered {status}\n{}",
        daemon.log()
    );
    assert!(
        body.contains("/assets/app.js"),
        "GET / is not the dashboard page:\n{body}"
    );

    let shot = std::env::var_os("KPID_SCREENSHOT")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            Path::new(env!("CARGO_TARGET_TMPDIR")).join("screenshots/dashboard.png")
        });
    let url = format!("http://127.0.0.1:{port}/");
    let (out_path, err_path) = (
        daemon.dir.path().join("node.out"),
        daemon.dir.path().join("node.err"),
    );
    let mut node = Command::new("node")
        .arg(browser_dir.join("dashboard.mjs"))
        .arg(&url)
        .arg(&shot)
        .current_dir(&root)
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&out_path).expect("node stdout file"))
        .stderr(std::fs::File::create(&err_path).expect("node stderr file"))
        .spawn()
        .expect("run node tests/browser/dashboard.mjs");
    // The script bounds each of its waits; this is a backstop against a hung browser.
    let deadline = Instant::now() + Duration::from_secs(180);
    while node.try_wait().expect("wait for node").is_none() {
        if Instant::now() > deadline {
            let _ = node.kill();
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let code = node.wait().expect("node exit status");
    let stdout = std::fs::read_to_string(&out_path).unwrap_or_default();
    let stderr = std::fs::read_to_string(&err_path).unwrap_or_default();
    assert!(
        code.success(),
        "dashboard check failed ({code}):\n{stdout}\n{stderr}\n{}",
        daemon.log()
    );
    assert!(
        stdout.contains("[dashboard] ok"),
        "dashboard check did not finish:\n{stdout}\n{stderr}"
    );
    let png = std::fs::read(&shot).expect("screenshot written");
    assert!(
        png.starts_with(b"\x89PNG") && png.len() > 10_000,
        "screenshot {} is not a real PNG ({} bytes)",
        shot.display(),
        png.len()
    );
    // On the same demo (one at a time: two would share the OTLP port and the two cores): the
    // default layout, legends with values, a synced cursor, a chart's CSV and PNG, zoom and
    // back; screenshots at 1440 px and 390 px, light and dark, under `target/tmp/screenshots/`.
    let shots = Path::new(env!("CARGO_TARGET_TMPDIR")).join("screenshots");
    let (ok, text) = layout_check(&["default".as_ref(), url.as_ref(), shots.as_os_str()]);
    assert!(ok, "layout check failed:\n{text}\n{}", daemon.log());
    for w in ["1440", "390"] {
        for theme in ["light", "dark"] {
            let png = std::fs::read(shots.join(format!("layout-{w}-{theme}.png"))).unwrap();
            assert!(png.starts_with(b"\x89PNG") && png.len() > 10_000);
        }
    }
    drop(daemon);
}

/// The alerts panel, toasts, colours, thresholds, state changes marked on the time axis (live
/// and from history), ack, silence and the config-error banner in
/// headless Chromium (`tests/browser/alerts.mjs`), against kpid following a log the script
/// writes; screenshots (light, dark, narrow, config error) under
/// `target/tmp/screenshots/`.
#[test]
fn alerts_panel_toasts_ack_silence_and_config_banner() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let browser_dir = root.join("tests/browser");
    require_tools(&browser_dir);
    let token = "browser-alerts-token";
    let (port, daemon) = start_with_config(
        token,
        r#"[alerts]
interval = "250ms"

[[source]]
name = "app"
path = "app.log"
parser = "logfmt"

[[alert]]
name = "TempHigh"
kpi = "temp"
warn = 70
crit = 90
clear = 60
annotations = { summary = "temp {{ $value }} on {{ $labels.source }}" }
"#,
    );
    let url = format!("http://127.0.0.1:{port}/?token={token}");
    let dir = daemon.dir.path().to_string_lossy().into_owned();
    let shots = [
        "alerts-light",
        "alerts-dark",
        "alerts-narrow",
        "alerts-config-error",
        "alerts-marks",
    ];
    check_script("alerts", &[&url, &dir], &shots, || daemon.log());
}

/// Runs `tests/browser/layout.mjs` with `args`; its output, and whether it said ok.
fn layout_check(args: &[&std::ffi::OsStr]) -> (bool, String) {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let out = Command::new("node")
        .arg(root.join("tests/browser/layout.mjs"))
        .args(args)
        .current_dir(&root)
        .stdin(Stdio::null())
        .output()
        .expect("run node tests/browser/layout.mjs");
    let text = format!(
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success() && text.contains("[layout] ok"), text)
}

/// A `[dashboard]` config: its panels (stacked, in their sections, in the file's order), its
/// header strip, and a reload of the section followed live by the page.
#[test]
fn layout_from_the_dashboard_config_and_its_reload() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    require_tools(&root.join("tests/browser"));
    let token = "browser-layout-token";
    let (port, daemon) = start_with_config(
        token,
        r#"[[source]]
name = "app"
path = "app.log"
parser = "logfmt"

[dashboard]
headline = ["reqs_out", "gpu_util_percent"]

[[dashboard.panel]]
title = "Load"
kpis = ["reqs_in", "reqs_out"]
chart = "area"
stacked = true

[[dashboard.panel]]
title = "GPU"
kpis = ["gpu_*"]
section = "Hardware"
thresholds = [80]
"#,
    );
    let shots = Path::new(env!("CARGO_TARGET_TMPDIR")).join("screenshots");
    let url = format!("http://127.0.0.1:{port}/?token={token}");
    let (ok, text) = layout_check(&[
        "config".as_ref(),
        url.as_ref(),
        shots.as_os_str(),
        daemon.dir.path().as_os_str(),
    ]);
    assert!(ok, "layout check failed:\n{text}\n{}", daemon.log());
}

/// Runs `node tests/browser/NAME.mjs ARGS... SHOTS_DIR`, asserts it ended with `[NAME] ok`
/// (else fails with its output and `log()`), and that each of `shots` is a real PNG there.
fn check_script(name: &str, args: &[&str], shots: &[&str], log: impl Fn() -> String) {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("screenshots");
    let out = Command::new("node")
        .arg(root.join(format!("tests/browser/{name}.mjs")))
        .args(args)
        .arg(&dir)
        .current_dir(&root)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("run node tests/browser/{name}.mjs: {e}"));
    let text = format!(
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success() && text.contains(&format!("[{name}] ok")),
        "{name} check failed:\n{text}\n{}",
        log()
    );
    for shot in shots {
        let png = std::fs::read(dir.join(format!("{shot}.png"))).expect("screenshot written");
        assert!(
            png.starts_with(b"\x89PNG") && png.len() > 10_000,
            "{shot}.png"
        );
    }
}

/// The trace waterfall in headless Chromium (`tests/browser/traces.mjs`): traces sent to the
/// OTLP receiver, opened from the spans table and from a click on the latency chart, the
/// bars checked against the spans; screenshots (light, dark, narrow) under
/// `target/tmp/screenshots/`.
#[test]
fn trace_waterfall_from_the_spans_table_and_a_latency_chart() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let browser_dir = root.join("tests/browser");
    require_tools(&browser_dir);
    let dir = tempfile::tempdir().expect("temp dir");
    let k = common::Kpid::start(dir.path(), &["--no-state", "--no-socket"]);
    let h = k.json("/api/health");
    let otlp = h["otlp"]["listen"].as_str().expect("an otlp section");
    let otlp_port = otlp.rsplit(':').next().unwrap();
    let url = format!("http://127.0.0.1:{}/", k.port);
    let shots = ["traces-light", "traces-dark", "traces-narrow"];
    check_script("traces", &[&url, otlp_port], &shots, String::new);
}

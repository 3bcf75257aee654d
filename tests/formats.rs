//! Common log formats understood with no config (issue 14, items 2 and 3): each fixture is
//! written at run time by the real program (nginx from Debian serving real requests, uvicorn
//! from PyPI serving a tiny ASGI app, Python's `logging` with real tracebacks, `logger`
//! through an unprivileged rsyslogd, a Go program logging with slog's TextHandler), then read
//! by `kpid --one-shot --log FILE` with no config, and its natural KPIs are checked by value
//! against what the test itself sent. `scripts/deps.sh` installs the programs (Debian
//! `nginx-light`, `rsyslog`, `golang-go` and `golang-golang-x-exp-dev`; PyPI `uvicorn`).

mod common;

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// Every sample `kpid --one-shot --log FILE` prints, by id (`name{labels}` as printed).
fn metrics(dir: &Path, log: &str) -> BTreeMap<String, f64> {
    let text = common::one_shot(dir, &["--log", log]);
    common::promtool_check(&text);
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .filter_map(|l| {
            let (id, v) = l.rsplit_once(' ')?;
            Some((id.to_owned(), v.parse().ok()?))
        })
        .collect()
}

fn get(m: &BTreeMap<String, f64>, id: &str) -> f64 {
    *m.get(id)
        .unwrap_or_else(|| panic!("no `{id}` in {:#?}", m.keys().collect::<Vec<_>>()))
}

fn assert_close(got: f64, want: f64, what: &str) {
    assert!(
        (got - want).abs() <= 1e-9 * want.abs().max(1.0),
        "{what}: got {got}, want {want}"
    );
}

/// A Debian daemon's path: /usr/sbin is not on every user's PATH.
fn sbin(name: &str) -> String {
    let path = format!("/usr/sbin/{name}");
    if Path::new(&path).exists() {
        path
    } else {
        name.to_owned()
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Sends one HTTP/1.0 request; returns the status and the body's length.
fn request(port: u16, method: &str, path: &str) -> (u16, usize) {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(
        s,
        "{method} {path} HTTP/1.0\r\nHost: x\r\nUser-Agent: kpid-test\r\nContent-Length: 0\r\n\r\n"
    )
    .unwrap();
    let mut raw = Vec::new();
    let _ = s.read_to_end(&mut raw);
    let text = String::from_utf8_lossy(&raw);
    let status = text.split_whitespace().nth(1).unwrap().parse().unwrap();
    let body = text.split_once("\r\n\r\n").map_or(0, |(_, b)| b.len());
    (status, body)
}

/// Waits until something accepts connections on `port`.
fn wait_listening(port: u16, child: &mut Child) {
    common::wait_for(30, "the server to listen", || {
        if let Ok(Some(st)) = child.try_wait() {
            panic!("the server exited: {st}");
        }
        TcpStream::connect(("127.0.0.1", port)).ok()
    });
}

/// Stops a server by its pid (SIGTERM) and waits for it.
fn stop(child: &mut Child) {
    let _ = Command::new("kill").arg(child.id().to_string()).status();
    let _ = child.wait();
}

/// The requests every HTTP fixture serves: (method, path), with their expected class.
const REQUESTS: [(&str, &str); 12] = [
    ("GET", "/"),
    ("GET", "/"),
    ("GET", "/missing"),
    ("GET", "/"),
    ("GET", "/boom"),
    ("POST", "/"),
    ("GET", "/"),
    ("GET", "/missing"),
    ("HEAD", "/"),
    ("GET", "/"),
    ("GET", "/boom"),
    ("GET", "/missing"),
];

/// Counts by (method, status class) of what the server answered, and the body bytes.
fn send_all(port: u16) -> (BTreeMap<(String, String), f64>, usize) {
    let mut by = BTreeMap::new();
    let mut bytes = 0;
    for (m, p) in REQUESTS {
        let (status, body) = request(port, m, p);
        *by.entry((m.to_owned(), format!("{}xx", status / 100)))
            .or_insert(0.0) += 1.0;
        bytes += body;
    }
    (by, bytes)
}

fn check_requests(m: &BTreeMap<String, f64>, source: &str, by: &BTreeMap<(String, String), f64>) {
    for ((method, class), n) in by {
        let id = format!(
            "http_requests_total{{method=\"{method}\",source=\"{source}\",status_class=\"{class}\"}}"
        );
        assert_eq!(get(m, &id), *n, "{id}");
    }
    let total: f64 = m
        .iter()
        .filter(|(k, _)| k.starts_with("http_requests_total{"))
        .map(|(_, v)| v)
        .sum();
    assert_eq!(total, REQUESTS.len() as f64);
    let fives: f64 = by
        .iter()
        .filter(|((_, c), _)| c == "5xx")
        .map(|(_, n)| n)
        .sum();
    assert!(fives > 0.0, "the fixture answers some 5xx: {by:?}");
    assert_close(
        get(m, &format!("http_5xx_ratio{{source=\"{source}\"}}")),
        fives / REQUESTS.len() as f64,
        "5xx ratio",
    );
}

#[test]
fn nginx_access_log_gives_requests_duration_bytes_and_5xx_ratio() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let port = free_port();
    std::fs::create_dir_all(d.join("www")).unwrap();
    std::fs::create_dir_all(d.join("tmp")).unwrap();
    std::fs::write(d.join("www/index.html"), "<h1>hello from nginx</h1>\n").unwrap();
    let conf = format!(
        r#"daemon off;
master_process off;
worker_processes 1;
pid {d}/nginx.pid;
error_log {d}/error.log;
events {{ worker_connections 64; }}
http {{
    log_format timed '$remote_addr - $remote_user [$time_local] "$request" '
                     '$status $body_bytes_sent "$http_referer" "$http_user_agent" $request_time';
    access_log {d}/access.log timed;
    client_body_temp_path {d}/tmp/body;
    proxy_temp_path {d}/tmp/proxy;
    fastcgi_temp_path {d}/tmp/fastcgi;
    uwsgi_temp_path {d}/tmp/uwsgi;
    scgi_temp_path {d}/tmp/scgi;
    server {{
        listen 127.0.0.1:{port};
        root {d}/www;
        location = /boom {{ return 503; }}
        location = / {{ if ($request_method = POST) {{ return 201; }} }}
    }}
}}
"#,
        d = d.display()
    );
    std::fs::write(d.join("nginx.conf"), conf).unwrap();
    let mut nginx = Command::new(sbin("nginx"))
        .args(["-p", &d.display().to_string(), "-c"])
        .arg(d.join("nginx.conf"))
        .args(["-e", &d.join("error.log").display().to_string()])
        .stdout(Stdio::null())
        .spawn()
        .expect("nginx must be installed (Debian nginx-light; scripts/deps.sh installs it)");
    wait_listening(port, &mut nginx);
    let (by, bytes) = send_all(port);
    stop(&mut nginx);
    let log = std::fs::read_to_string(d.join("access.log")).unwrap();
    assert_eq!(log.lines().count(), REQUESTS.len(), "{log}");

    let m = metrics(d, "access.log");
    check_requests(&m, "access", &by);
    assert_eq!(
        get(&m, "http_response_bytes_total{source=\"access\"}"),
        bytes as f64,
        "bytes sent, as the client received them"
    );
    assert_eq!(
        get(&m, "http_request_duration_seconds_count{source=\"access\"}"),
        REQUESTS.len() as f64
    );
    // nginx's own request times, summed from the log's last column.
    let sum: f64 = log
        .lines()
        .map(|l| l.rsplit(' ').next().unwrap().parse::<f64>().unwrap())
        .sum();
    assert_close(
        get(&m, "http_request_duration_seconds_sum{source=\"access\"}"),
        sum,
        "request time sum",
    );
    // Levels from the status: 5xx error, 4xx warn, else info.
    let class = |c: &str| {
        by.iter()
            .filter(|((_, k), _)| k == c)
            .map(|(_, n)| n)
            .sum::<f64>()
    };
    assert_eq!(
        get(&m, "log_lines_total{level=\"error\",source=\"access\"}"),
        class("5xx")
    );
    assert_eq!(
        get(&m, "log_lines_total{level=\"warn\",source=\"access\"}"),
        class("4xx")
    );
    // Text fields of access lines are not charted on their own.
    assert!(!m
        .keys()
        .any(|k| k.starts_with("status{") || k.starts_with("bytes{")));
}

#[test]
fn uvicorn_log_gives_requests_and_joins_the_traceback() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let port = free_port();
    let log = std::fs::File::create(d.join("uvicorn.log")).unwrap();
    let support = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/formats_support");
    let mut server = Command::new("python3")
        .args([
            "-m",
            "uvicorn",
            "asgi_app:app",
            "--host",
            "127.0.0.1",
            "--no-use-colors",
        ])
        .args(["--port", &port.to_string(), "--app-dir"])
        .arg(&support)
        .env("PYTHONUNBUFFERED", "1")
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .unwrap();
    wait_listening(port, &mut server);
    let (by, _) = send_all(port);
    stop(&mut server);
    let text = std::fs::read_to_string(d.join("uvicorn.log")).unwrap();
    assert!(
        text.contains("Traceback (most recent call last):"),
        "{text}"
    );

    let m = metrics(d, "uvicorn.log");
    check_requests(&m, "uvicorn", &by);
    // Every line that does not start with a level is part of a traceback: joined, not counted
    // as a line of its own (no `level="none"`).
    let starts = |l: &str| {
        ["INFO:", "ERROR:", "WARNING:", "DEBUG:", "CRITICAL:"]
            .iter()
            .any(|p| l.starts_with(p))
    };
    let joined = text.lines().filter(|l| !starts(l)).count();
    assert!(joined > 5, "{text}");
    assert_eq!(
        get(&m, "log_joined_lines_total{source=\"uvicorn\"}"),
        joined as f64
    );
    assert!(!m.contains_key("log_lines_total{level=\"none\",source=\"uvicorn\"}"));
    let errors = text.lines().filter(|l| l.starts_with("ERROR:")).count();
    assert_eq!(errors, 2, "one per /boom: {text}");
    assert_eq!(
        get(&m, "log_lines_total{level=\"error\",source=\"uvicorn\"}"),
        errors as f64
    );
}

#[test]
fn python_logging_gives_latency_percentiles_ratios_labels_and_one_record_per_traceback() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/formats_support/pylog.py");
    // 40 batches: latency 5..200 ms, a hit on 3 of 4, models a and b.
    let rows: Vec<(f64, bool, &str)> = (0..40)
        .map(|i| {
            (
                5.0 * (i + 1) as f64,
                i % 4 != 0,
                if i % 3 == 0 { "a" } else { "b" },
            )
        })
        .collect();
    let input: String = rows
        .iter()
        .map(|(l, h, m)| format!("{l} {h} {m}\n"))
        .collect();
    let mut py = Command::new("python3")
        .arg(&script)
        .args([d.join("app.log"), d.join("basic.log")])
        .stdin(Stdio::piped())
        .spawn()
        .unwrap();
    py.stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    assert!(py.wait().unwrap().success());

    for (file, source, record) in [("app.log", "app", "2"), ("basic.log", "basic", "")] {
        let text = std::fs::read_to_string(d.join(file)).unwrap();
        let m = metrics(d, file);
        let lines = |level: &str| {
            get(
                &m,
                &format!("log_lines_total{{level=\"{level}\",source=\"{source}\"}}"),
            )
        };
        assert_eq!(
            (lines("info"), lines("warn"), lines("error"), lines("debug")),
            (40.0, 1.0, 1.0, 1.0),
            "{source}"
        );
        assert!(!m.keys().any(|k| k.contains("level=\"none\"")), "{source}");
        let is_record = |l: &str| {
            if record.is_empty() {
                ["INFO:", "ERROR:", "WARNING:", "DEBUG:"]
                    .iter()
                    .any(|p| l.starts_with(p))
            } else {
                l.starts_with(record)
            }
        };
        let joined = text.lines().filter(|l| !is_record(l)).count();
        assert!(joined >= 10, "two chained tracebacks: {text}");
        assert_eq!(
            get(
                &m,
                &format!("log_joined_lines_total{{source=\"{source}\"}}")
            ),
            joined as f64
        );
        check_batches(&m, &rows, |model| {
            format!("model=\"{model}\",source=\"{source}\"")
        });
        // A gauge stays a gauge; batch and seq are not charted.
        assert_eq!(get(&m, &format!("depth{{source=\"{source}\"}}")), 97.0);
        assert!(
            !m.keys()
                .any(|k| k.starts_with("batch") || k.starts_with("seq")),
            "{m:#?}"
        );
        assert_eq!(
            get(
                &m,
                &format!("auto_fields_left_out_total{{reason=\"id\",source=\"{source}\"}}")
            ),
            2.0
        );
    }
}

/// The batches' KPIs per model, by value: `latency` (milliseconds in `rows`) as a distribution
/// in seconds (count, sum, p95) and `hit` as a ratio; `labels(model)` is the series' labels.
fn check_batches(
    m: &BTreeMap<String, f64>,
    rows: &[(f64, bool, &str)],
    labels: impl Fn(&str) -> String,
) {
    for model in ["a", "b"] {
        let mine: Vec<_> = rows.iter().filter(|r| r.2 == model).collect();
        let inner = labels(model);
        let count = get(m, &format!("latency_seconds_count{{{inner}}}"));
        assert_eq!(count, mine.len() as f64, "{model}");
        let sum: f64 = mine.iter().map(|r| r.0 / 1000.0).sum();
        let got = get(m, &format!("latency_seconds_sum{{{inner}}}"));
        assert_close(got, sum, "latency sum");
        let mut sorted: Vec<f64> = mine.iter().map(|r| r.0 / 1000.0).collect();
        sorted.sort_by(f64::total_cmp);
        let p95 = get(m, &format!("latency_seconds{{{inner},quantile=\"0.95\"}}"));
        // The store's rank: floor(q × (n - 1)), within the sketch's relative error.
        let want = sorted[(0.95 * (sorted.len() - 1) as f64).floor() as usize];
        assert!((p95 - want).abs() <= 0.02 * want, "p95 {p95} vs {want}");
        // hit: the fraction of true.
        let hits = mine.iter().filter(|r| r.1).count() as f64;
        let got = get(m, &format!("hit_ratio{{{inner}}}"));
        assert_close(got, hits / mine.len() as f64, "hit ratio");
    }
}

/// rsyslogd with a user config: UDP on a free port, two files (RFC 3164 with its priority:
/// rsyslog's traditional forward format with a newline, as its file formats have no
/// priority; RFC 5424: `RSYSLOG_SyslogProtocol23Format`), fed by `logger`.
#[test]
fn syslog_through_rsyslogd_gives_levels_and_fields() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let port = free_port();
    let conf = format!(
        r#"global(workDirectory="{d}")
module(load="imudp")
input(type="imudp" address="127.0.0.1" port="{port}")
template(name="bsd" type="string"
         string="<%PRI%>%TIMESTAMP% %HOSTNAME% %syslogtag%%msg:::sp-if-no-1st-sp%%msg%\n")
*.* action(type="omfile" file="{d}/bsd.log" template="bsd")
*.* action(type="omfile" file="{d}/ietf.log" template="RSYSLOG_SyslogProtocol23Format")
"#,
        d = d.display()
    );
    std::fs::write(d.join("rsyslog.conf"), conf).unwrap();
    let mut daemon = Command::new(sbin("rsyslogd"))
        .args(["-n", "-f"])
        .arg(d.join("rsyslog.conf"))
        .arg("-i")
        .arg(d.join("rsyslogd.pid"))
        .stdout(Stdio::null())
        .spawn()
        .expect("rsyslogd must be installed (Debian rsyslog; scripts/deps.sh installs it)");
    // UDP has no connection to wait for: wait until rsyslogd has opened its files.
    let sent: [(&str, &str); 6] = [
        ("user.info", "job done latency_ms=12"),
        ("user.info", "job done latency_ms=30"),
        ("user.err", "db unreachable retries=3"),
        ("user.warning", "disk 91% full"),
        ("user.info", "job done latency_ms=18"),
        ("user.err", "db unreachable retries=4"),
    ];
    let log = |prio: &str, msg: &str, rfc: &str| {
        let st = Command::new("logger")
            .args([
                "--server",
                "127.0.0.1",
                "--port",
                &port.to_string(),
                "--udp",
                rfc,
            ])
            .args(["-p", prio, "-t", "worker", msg])
            .status()
            .unwrap();
        assert!(st.success());
    };
    common::wait_for(30, "rsyslogd to write", || {
        if let Ok(Some(st)) = daemon.try_wait() {
            panic!("rsyslogd exited: {st}");
        }
        log("user.debug", "probe", "--rfc3164");
        std::thread::sleep(Duration::from_millis(100));
        std::fs::metadata(d.join("bsd.log"))
            .ok()
            .filter(|m| m.len() > 0)
    });
    for (i, (prio, msg)) in sent.iter().enumerate() {
        log(
            prio,
            msg,
            if i % 2 == 0 { "--rfc3164" } else { "--rfc5424" },
        );
    }
    log("user.notice", "the end", "--rfc3164");
    common::wait_for(30, "the last message", || {
        std::fs::read_to_string(d.join("ietf.log"))
            .ok()
            .filter(|t| t.contains("the end"))
    });
    stop(&mut daemon);

    for source in ["bsd", "ietf"] {
        let m = metrics(d, &format!("{source}.log"));
        let lines = |level: &str| {
            m.get(&format!(
                "log_lines_total{{level=\"{level}\",source=\"{source}\"}}"
            ))
            .copied()
            .unwrap_or(0.0)
        };
        // info: 3 jobs and the notice; debug: the probes (at least one).
        assert_eq!(
            (lines("info"), lines("warn"), lines("error")),
            (4.0, 1.0, 2.0),
            "{source}"
        );
        assert!(lines("debug") >= 1.0);
        assert_eq!(lines("none"), 0.0);
        let labels = format!("{{source=\"{source}\"}}");
        assert_eq!(get(&m, &format!("latency_seconds_count{labels}")), 3.0);
        assert_close(
            get(&m, &format!("latency_seconds_sum{labels}")),
            0.060,
            "latency sum",
        );
        assert_eq!(get(&m, &format!("retries{labels}")), 4.0);
    }
}

/// `[[source]] fields` overrides what kpid infers; an unknown kind is a clear config error.
/// A source's change of format is counted.
#[test]
fn source_fields_override_the_inference() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(
        d.join("app.log"),
        "level=info batch=7 latency_ms=10 tokens_per_s=50 model=a\n\
         level=info batch=8 latency_ms=30 tokens_per_s=70 model=b\n\
         {\"level\":\"warn\",\"msg\":\"now in JSON\"}\n",
    )
    .unwrap();
    std::fs::write(
        d.join("k.toml"),
        "[[source]]\nname = \"app\"\npath = \"app.log\"\n\
         fields = { batch = \"gauge\", latency_ms = \"ignore\", model = \"ignore\" }\n",
    )
    .unwrap();
    let text = common::one_shot(d, &["--config", "k.toml"]);
    assert!(text.contains("\nbatch{source=\"app\"} 8\n"), "{text}");
    assert!(
        text.contains("\ntokens_per_second{source=\"app\"} 70\n"),
        "{text}"
    );
    assert!(!text.contains("latency_seconds"), "{text}");
    assert!(
        text.contains("auto_fields_left_out_total{reason=\"config\",source=\"app\"} 2"),
        "{text}"
    );
    assert!(
        text.contains("\nlog_format_switches_total{source=\"app\"} 1\n"),
        "{text}"
    );
    // `kpid parse` shows each inference.
    let parse = Command::new(env!("CARGO_BIN_EXE_kpid"))
        .current_dir(d)
        .args(["parse", "--config", "k.toml", "app.log"])
        .output()
        .unwrap();
    let shown = String::from_utf8_lossy(&parse.stdout);
    for want in [
        "field batch: gauge (set in the config) -> batch",
        "field latency_ms: ignore (set in the config)",
        "field tokens_per_s: gauge (number) -> tokens_per_second",
    ] {
        assert!(shown.contains(want), "no `{want}` in\n{shown}");
    }

    std::fs::write(
        d.join("bad.toml"),
        "[[source]]\npath = \"app.log\"\nfields = { batch = \"sum\" }\n",
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_kpid"))
        .current_dir(d)
        .args(["--one-shot", "--config", "bad.toml"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        err.contains("unknown variant `sum`")
            && err.contains("ignore")
            && err.contains("distribution")
            && err.contains("bad.toml"),
        "{err}"
    );
}

/// A multi-line record written in pieces (separate batches) is one record; after a restart
/// nothing is counted twice (file checkpoints cover whole lines already applied).
#[test]
fn a_traceback_spans_batches_and_restarts_count_it_once() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(
        d.join("kpid.toml"),
        "[tail]\ncheckpoint_interval = \"100ms\"\n",
    )
    .unwrap();
    let log = d.join("app.log");
    common::append(&log, "");
    let args: Vec<&str> = "--config kpid.toml --log app.log --state-dir state --no-socket"
        .split(' ')
        .collect();
    let value = |port: u16, id: &str| -> Option<f64> {
        let (_, body) = common::http_get(port, "/metrics");
        body.lines()
            .find_map(|l| l.strip_prefix(id)?.strip_prefix(' ')?.parse().ok())
    };
    let wait = |port: u16, id: &str, want: f64| {
        common::wait_for(20, id, || (value(port, id) == Some(want)).then_some(()));
    };
    let (errors, joined, info) = (
        "log_lines_total{level=\"error\",source=\"app\"}",
        "log_joined_lines_total{source=\"app\"}",
        "log_lines_total{level=\"info\",source=\"app\"}",
    );
    let mut k = common::Kpid::start(d, &args);
    common::append(
        &log,
        "2026-11-30 10:00:00,000 - app - ERROR - failed\nTraceback (most recent call last):\n  File \"a.py\", line 1, in <module>\n",
    );
    wait(k.port, joined, 2.0);
    common::append(&log, "    f()\nValueError: x\n");
    wait(k.port, joined, 4.0);
    assert_eq!(value(k.port, errors), Some(1.0));
    assert_eq!(
        value(k.port, "log_lines_total{level=\"none\",source=\"app\"}"),
        None
    );
    std::thread::sleep(Duration::from_millis(300)); // a checkpoint after the last batch
    k.terminate();

    let k = common::Kpid::start(d, &args);
    common::append(
        &log,
        "2026-11-30 10:00:01,000 - app - INFO - next\n  more of it\n",
    );
    wait(k.port, info, 1.0);
    wait(k.port, joined, 5.0);
    assert_eq!(
        value(k.port, errors),
        Some(1.0),
        "the traceback's record counted once"
    );
}

/// Builds `tests/formats_support/slog_app.go` (GOPATH mode, against Debian's
/// golang-golang-x-exp-dev) under the target directory; `None` when there is no `go`.
fn slog_app() -> Option<std::path::PathBuf> {
    if Command::new("go").arg("version").output().is_err() {
        return None;
    }
    let out = Path::new(env!("CARGO_TARGET_TMPDIR")).join("slog");
    std::fs::create_dir_all(&out).unwrap();
    let bin = out.join(format!("slog_app_{}", std::process::id()));
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/formats_support/slog_app.go");
    let build = Command::new("go")
        .args(["build", "-o"])
        .arg(&bin)
        .arg(&src)
        .env("GO111MODULE", "off")
        .env("GOPATH", "/usr/share/gocode")
        .env("GOCACHE", out.join("cache"))
        .env("GOFLAGS", "")
        .env("GOENV", "off")
        .output()
        .unwrap();
    assert!(
        build.status.success(),
        "go build (scripts/deps.sh installs golang-golang-x-exp-dev): {}",
        String::from_utf8_lossy(&build.stderr)
    );
    Some(bin)
}

/// A Go program logging with slog's TextHandler: levels (with slog's offsets, `INFO+2`),
/// durations (`5ms`, `1m5s`) as latency distributions, booleans as ratios, a string and a
/// group's string (`req.method`) as labels, batch numbers and `req.status` left out, the
/// handler's `source=file:line` and the error text left out, a number as a gauge.
#[test]
fn go_slog_text_gives_levels_latency_ratios_and_labels() {
    let Some(app) = slog_app() else {
        eprintln!("skipped: no `go` on PATH (scripts/deps.sh installs golang-go)");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // 40 batches: 5..200 ms, then one of 65 s (`1m5s`); a hit on 3 of 4; models a and b.
    let rows: Vec<(f64, bool, &str)> = (0..41)
        .map(|i| {
            let ms = if i == 40 {
                65_000.0
            } else {
                5.0 * (i + 1) as f64
            };
            (ms, i % 4 != 0, if i % 3 == 0 { "a" } else { "b" })
        })
        .collect();
    let input: String = rows
        .iter()
        .map(|(l, h, m)| format!("{l} {h} {m}\n"))
        .collect();
    let log = std::fs::File::create(d.join("slog.log")).unwrap();
    let mut go = Command::new(&app)
        .stdin(Stdio::piped())
        .stdout(log)
        .spawn()
        .unwrap();
    go.stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    assert!(go.wait().unwrap().success());
    let _ = std::fs::remove_file(&app);
    let text = std::fs::read_to_string(d.join("slog.log")).unwrap();
    assert!(
        text.contains(" latency=1m5s ") && text.contains("level=INFO+2"),
        "{text}"
    );

    let m = metrics(d, "slog.log");
    let lines = |level: &str| {
        get(
            &m,
            &format!("log_lines_total{{level=\"{level}\",source=\"slog\"}}"),
        )
    };
    // 41 batches and `INFO+2`; `ERROR` and `ERROR+4`.
    assert_eq!(
        (lines("info"), lines("debug"), lines("warn"), lines("error")),
        (42.0, 1.0, 1.0, 2.0)
    );
    assert!(!m.keys().any(|k| k.contains("level=\"none\"")), "{m:#?}");
    check_batches(&m, &rows, |model| {
        format!("model=\"{model}\",req_method=\"POST\",source=\"slog\"")
    });
    assert_eq!(get(&m, "depth{source=\"slog\"}"), 97.0);
    // batch and req.status (numbers that name things); source=file:line and err (text).
    for reason in ["id", "text"] {
        let id = format!("auto_fields_left_out_total{{reason=\"{reason}\",source=\"slog\"}}");
        assert_eq!(get(&m, &id), 2.0, "{reason}");
    }
    assert!(
        !m.keys()
            .any(|k| k.starts_with("batch") || k.starts_with("req_status")),
        "{m:#?}"
    );
}

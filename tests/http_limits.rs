//! The HTTP side's limits against the built binary: the API token (401) for state changes and
//! for everything beyond loopback, the header timeout (408), the idle timeout, the caps on the
//! request target (414), body (413) and head (431), the per-address connection cap (503),
//! WebSocket messages over the limit (close 1009), and the tailer still working while the
//! HTTP side is flooded under a low open-file limit. Each one counted in `/api/health`.

mod common;

use common::{http_raw, Kpid};
use std::io::Read;
use std::net::TcpStream;
use std::path::Path;
use std::time::{Duration, Instant};
use tungstenite::client::IntoClientRequest;

fn config(dir: &Path, server: &str) -> String {
    std::fs::write(dir.join("kpid.toml"), format!("[server]\n{server}\n")).unwrap();
    "kpid.toml".into()
}

fn health_http(k: &Kpid, token: &str) -> serde_json::Value {
    let (s, body) = k.get(&format!("/api/health?token={token}"));
    assert_eq!(s, 200, "{body}");
    serde_json::from_str::<serde_json::Value>(&body).unwrap()["http"].clone()
}

#[test]
fn the_token_is_made_owner_only_printed_once_and_required_to_change_state() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let k = Kpid::start(dir.path(), &["--state-dir", "state", "--no-socket"]);
    let file = dir.path().join("state/token");
    let token = std::fs::read_to_string(&file).unwrap().trim().to_owned();
    assert_eq!(token.len(), 64);
    let mode = std::fs::metadata(&file).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    assert!(
        k.banner.contains(&format!("/?token={token}")),
        "banner: {:?}",
        k.banner
    );
    // Reads on loopback need no token; anything else does.
    assert_eq!(k.get("/api/health").0, 200);
    let post = |auth: &str| {
        http_raw(
            k.port,
            format!("POST /api/health HTTP/1.1\r\nHost: 127.0.0.1\r\n{auth}Content-Length: 0\r\nConnection: close\r\n\r\n").as_bytes(),
        )
    };
    let (s, text) = post("");
    assert_eq!(s, 401, "{text}");
    assert!(
        text.to_ascii_lowercase()
            .contains("www-authenticate: bearer"),
        "{text}"
    );
    assert_eq!(
        post("Authorization: Bearer wrong-token-0123456789\r\n").0,
        401
    );
    let (s, text) = post(&format!("Authorization: Bearer {token}\r\n"));
    assert!(s != 401 && s != 0, "{text}");
    assert_eq!(health_http(&k, &token)["refused_token"], 2);
    drop(k);
    // The same token at the next start.
    let k = Kpid::start(dir.path(), &["--state-dir", "state", "--no-socket"]);
    assert!(k.banner.contains(&token), "{:?}", k.banner);
}

#[test]
fn beyond_loopback_every_read_needs_the_token_but_the_page_loads() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), "token = \"abcdefghijklmnop-0123\"");
    let k = Kpid::start(
        dir.path(),
        &[
            "--config",
            &cfg,
            "--host",
            "0.0.0.0",
            "--no-state",
            "--no-socket",
        ],
    );
    assert_eq!(k.get("/api/health").0, 401);
    assert_eq!(k.get("/metrics").0, 401);
    assert_eq!(k.get("/api/health?token=abcdefghijklmnop-0123").0, 200);
    let (s, page) = k.get("/");
    assert_eq!(s, 200);
    assert!(
        page.contains("<html") || page.contains("<!doctype"),
        "{page}"
    );
    let ws = |q: &str| {
        let req = format!("ws://127.0.0.1:{}/ws/metrics{q}", k.port)
            .into_client_request()
            .unwrap();
        match tungstenite::connect(req) {
            Ok(_) => 101,
            Err(tungstenite::Error::Http(r)) => r.status().as_u16(),
            Err(e) => panic!("{e}"),
        }
    };
    assert_eq!(ws(""), 401);
    assert_eq!(ws("?token=abcdefghijklmnop-0123"), 101);
    drop(k);
    let k = Kpid::start(
        dir.path(),
        &[
            "--host",
            "0.0.0.0",
            "--insecure",
            "--no-state",
            "--no-socket",
        ],
    );
    assert_eq!(k.get("/api/health").0, 200);
}

#[test]
fn slow_and_oversized_requests_get_408_414_413_431_and_idle_ones_are_closed() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(
        dir.path(),
        "header_timeout = \"400ms\"\nmax_uri_bytes = 1024\nmax_body_bytes = 100\nmax_header_bytes = 8192",
    );
    let k = Kpid::start(dir.path(), &["--config", &cfg, "--no-state", "--no-socket"]);
    let t0 = Instant::now();
    let (s, text) = http_raw(k.port, b"GET /api/health HTTP/1.1\r\nHost: 127.0");
    assert_eq!(s, 408, "{text}");
    assert!(t0.elapsed() < Duration::from_secs(5));
    // Idle between requests: closed quietly.
    let (s, text) = http_raw(k.port, b"");
    assert_eq!((s, text.as_str()), (0, ""));
    let long = format!(
        "GET /api/health?x={} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n",
        "a".repeat(2000)
    );
    assert_eq!(http_raw(k.port, long.as_bytes()).0, 414);
    let body = "POST /api/health HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 1000\r\nConnection: close\r\n\r\n";
    assert_eq!(http_raw(k.port, body.as_bytes()).0, 413);
    let big = format!(
        "GET /api/health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: {}\r\n\r\n",
        "b".repeat(20_000)
    );
    assert_eq!(http_raw(k.port, big.as_bytes()).0, 431);
    // Counted once the connection's task has ended, just after the client read the answer.
    let h = common::wait_for(5, "the refusals counted", || {
        let h = health_http(&k, "");
        (h["refused_bad_head"] == 1 && h["header_timeouts"] == 2).then_some(h)
    });
    assert_eq!(h["header_timeouts"], 2, "{h}");
    assert_eq!(h["refused_uri_too_long"], 1, "{h}");
    assert_eq!(h["refused_body_too_large"], 1, "{h}");
    assert_eq!(h["refused_bad_head"], 1, "{h}");
    let (_, metrics) = k.get("/metrics");
    assert!(metrics.contains("kpid_http_refused_total{reason=\"header_timeout\"} 2"));
}

#[test]
fn an_idle_connection_is_closed_after_the_idle_timeout() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(
        dir.path(),
        "header_timeout = \"30s\"\nidle_timeout = \"300ms\"",
    );
    let k = Kpid::start(dir.path(), &["--config", &cfg, "--no-state", "--no-socket"]);
    let mut s = TcpStream::connect(("127.0.0.1", k.port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let t0 = Instant::now();
    let mut b = [0u8; 16];
    assert_eq!(s.read(&mut b).unwrap_or(0), 0);
    assert!(t0.elapsed() < Duration::from_secs(5), "{:?}", t0.elapsed());
    assert_eq!(health_http(&k, "")["idle_timeouts"], 1);
}

#[test]
fn connections_over_the_per_address_cap_get_503_and_the_others_go_on() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), "max_connections_per_peer = 4");
    let k = Kpid::start(dir.path(), &["--config", &cfg, "--no-state", "--no-socket"]);
    let held: Vec<TcpStream> = (0..4)
        .map(|_| TcpStream::connect(("127.0.0.1", k.port)).unwrap())
        .collect();
    std::thread::sleep(Duration::from_millis(200));
    let (s, text) = k.get("/api/health");
    assert_eq!(s, 503, "{text}");
    assert!(text.contains("max_connections_per_peer"), "{text}");
    drop(held);
    let h = common::wait_for(5, "a slot again", || {
        let (s, b) = k.get("/api/health");
        (s == 200).then_some(b)
    });
    let h: serde_json::Value = serde_json::from_str(&h).unwrap();
    assert!(h["http"]["refused_peer_busy"].as_u64().unwrap() >= 1, "{h}");
}

#[test]
fn connections_over_the_total_cap_get_503() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), "max_connections = 8");
    let k = Kpid::start(dir.path(), &["--config", &cfg, "--no-state", "--no-socket"]);
    let held: Vec<TcpStream> = (0..8)
        .map(|_| TcpStream::connect(("127.0.0.1", k.port)).unwrap())
        .collect();
    std::thread::sleep(Duration::from_millis(200));
    let (s, text) = k.get("/api/health");
    assert_eq!(s, 503, "{text}");
    assert!(text.contains("[server] max_connections"), "{text}");
    drop(held);
    let h = common::wait_for(5, "a slot again", || {
        let (s, b) = k.get("/api/health");
        (s == 200).then_some(b)
    });
    let h: serde_json::Value = serde_json::from_str(&h).unwrap();
    assert!(h["http"]["refused_busy"].as_u64().unwrap() >= 1, "{h}");
}

#[test]
fn a_websocket_message_over_the_limit_is_closed_with_1009() {
    let dir = tempfile::tempdir().unwrap();
    let k = Kpid::start(dir.path(), &["--no-state", "--no-socket"]);
    let (mut ws, _) =
        tungstenite::connect(format!("ws://127.0.0.1:{}/ws/metrics", k.port)).unwrap();
    let _snapshot = ws.read().unwrap();
    ws.send(tungstenite::Message::text("x".repeat(70_000)))
        .unwrap();
    let code = loop {
        match ws.read() {
            Ok(tungstenite::Message::Close(Some(f))) => break u16::from(f.code),
            Ok(_) => continue,
            Err(e) => panic!("no close frame: {e}"),
        }
    };
    assert_eq!(code, 1009);
    assert_eq!(health_http(&k, "")["ws_too_large"], 1);
}

#[test]
fn the_tailer_keeps_working_while_http_is_flooded_under_a_low_open_file_limit() {
    use std::os::unix::process::CommandExt;
    use std::process::{Command, Stdio};
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("app.log");
    std::fs::write(&log, "").unwrap();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_kpid"));
    cmd.args([
        "--log",
        "app.log",
        "--no-state",
        "--no-socket",
        "--port",
        "0",
    ])
    .current_dir(dir.path())
    .stdout(Stdio::piped());
    // SAFETY: setrlimit is async-signal-safe; the closure touches nothing else.
    unsafe {
        cmd.pre_exec(|| {
            let l = libc::rlimit {
                rlim_cur: 320,
                rlim_max: 320,
            };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &l) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let mut child = cmd.spawn().unwrap();
    let mut line = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(child.stdout.take().unwrap()),
        &mut line,
    )
    .unwrap();
    let port: u16 = line
        .trim()
        .trim_end_matches('/')
        .rsplit(':')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    // 600 connections: far more than the 320 descriptors kpid has.
    let flood: Vec<TcpStream> = (0..600)
        .filter_map(|_| TcpStream::connect(("127.0.0.1", port)).ok())
        .collect();
    // Rotate the log under the flood: the tailer must open the new file.
    common::append(&log, "{\"level\":\"info\",\"n\":1}\n");
    std::thread::sleep(Duration::from_millis(300));
    std::fs::rename(&log, dir.path().join("app.log.1")).unwrap();
    common::append(
        &log,
        "{\"level\":\"info\",\"n\":2}\n{\"level\":\"info\",\"n\":3}\n",
    );
    std::thread::sleep(Duration::from_secs(2));
    drop(flood);
    let health = common::wait_for(15, "kpid answering again", || {
        let (s, b) = common::http_get(port, "/api/health");
        (s == 200).then_some(b)
    });
    let h: serde_json::Value = serde_json::from_str(&health).unwrap();
    let refused = h["http"]["refused_busy"].as_u64().unwrap()
        + h["http"]["refused_peer_busy"].as_u64().unwrap();
    assert!(refused > 0, "{h}");
    let lines: u64 = h["sources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["lines"].as_u64().unwrap())
        .sum();
    assert_eq!(lines, 3, "{h}");
    assert!(
        h["sources"]
            .as_array()
            .unwrap()
            .iter()
            .all(|f| f["state"] != "error"),
        "{h}"
    );
    let _ = child.kill();
    let _ = child.wait();
}

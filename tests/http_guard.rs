//! Host and Origin checks against the built binary: DNS rebinding (a foreign `Host`) and
//! cross-site WebSocket hijacking (a foreign `Origin`) are refused and counted; the page's own
//! origin, non-browser clients and configured names are served.

mod common;

use common::Kpid;
use std::io::{Read, Write};
use std::net::TcpStream;
use tungstenite::client::IntoClientRequest;

/// GET with the given `Host` header; returns status and body.
fn get_with_host(port: u16, path: &str, host: &str) -> (u16, String) {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut raw = String::new();
    s.read_to_string(&mut raw).unwrap();
    let status = raw
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    (
        status,
        raw.split_once("\r\n\r\n").map_or("", |(_, b)| b).to_owned(),
    )
}

/// Opens `/ws/metrics` with an optional `Origin`; Ok(()) on 101, Err(status) otherwise.
fn ws_with_origin(port: u16, origin: Option<&str>) -> Result<(), u16> {
    let mut req = format!("ws://127.0.0.1:{port}/ws/metrics")
        .into_client_request()
        .unwrap();
    if let Some(o) = origin {
        req.headers_mut().insert("Origin", o.parse().unwrap());
    }
    match tungstenite::connect(req) {
        Ok(_) => Ok(()),
        Err(tungstenite::Error::Http(resp)) => Err(resp.status().as_u16()),
        Err(e) => panic!("websocket: {e}"),
    }
}

#[test]
fn a_foreign_host_is_refused_with_421_dns_rebinding() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("kpid.toml"),
        "[server]\nallowed_hosts = [\"kpid.lan\"]\n",
    )
    .unwrap();
    let k = Kpid::start(
        dir.path(),
        &["--config", "kpid.toml", "--no-state", "--no-socket"],
    );
    let p = k.port;
    let (status, body) = get_with_host(p, "/api/health", "evil.example");
    assert_eq!(status, 421, "{body}");
    assert!(
        body.contains("evil.example") && !body.contains("\"sources\""),
        "{body}"
    );
    let (status, _) = get_with_host(p, "/metrics", &format!("evil.example:{p}"));
    assert_eq!(status, 421);
    for ok in [
        format!("127.0.0.1:{p}"),
        format!("localhost:{p}"),
        "kpid.lan".to_owned(),
    ] {
        let (status, body) = get_with_host(p, "/api/health", &ok);
        assert_eq!(status, 200, "{ok}: {body}");
    }
    let h = k.json("/api/health");
    assert_eq!(h["http"]["refused_host"], 2, "{h}");
    let (_, metrics) = k.get("/metrics");
    assert!(
        metrics.contains("kpid_http_refused_total{reason=\"host\"} 2"),
        "{metrics}"
    );
}

#[test]
fn a_foreign_origin_cannot_open_the_websocket() {
    let dir = tempfile::tempdir().unwrap();
    let k = Kpid::start(dir.path(), &["--no-state", "--no-socket"]);
    let p = k.port;
    assert_eq!(ws_with_origin(p, Some("http://evil.example")), Err(403));
    assert_eq!(
        ws_with_origin(p, Some(&format!("http://localhost:{}", p + 1))),
        Err(403)
    );
    // The dashboard's own origin, and clients that send none (scripts, tools), are served.
    assert_eq!(
        ws_with_origin(p, Some(&format!("http://127.0.0.1:{p}"))),
        Ok(())
    );
    assert_eq!(ws_with_origin(p, None), Ok(()));
    let h = k.json("/api/health");
    assert_eq!(h["http"]["refused_origin"], 2, "{h}");
}

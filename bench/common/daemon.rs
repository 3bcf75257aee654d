//! The release `kpid` binary for the ingest benches: started with the given arguments on a
//! free port, killed on drop; its `/api/health` sections read over plain HTTP.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};

/// The span names the ingest benches send (a pipeline's stages).
pub const SPAN_NAMES: [&str; 8] = [
    "capture",
    "preprocess",
    "infer",
    "postprocess",
    "decode",
    "resize",
    "nms",
    "encode",
];

/// A running kpid.
pub struct Kpid {
    child: Child,
    /// The dashboard and API port.
    pub port: u16,
}

impl Drop for Kpid {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `kpid ARGS --port 0 --state-dir DIR/state` and waits for its address.
pub fn start(dir: &std::path::Path, args: &[&str]) -> Kpid {
    let mut child = Command::new(env!("CARGO_BIN_EXE_kpid"))
        .args(args)
        .args(["--port", "0", "--state-dir"])
        .arg(dir.join("state"))
        .env("KPID_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("kpid binary");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let port = line
        .trim()
        .rsplit(':')
        .next()
        .and_then(|p| p.trim_end_matches('/').parse().ok());
    Kpid {
        child,
        port: port.unwrap_or_else(|| panic!("kpid printed {line:?}")),
    }
}

/// The `section` of `/api/health`.
pub fn health(port: u16, section: &str) -> serde_json::Value {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    write!(s, "GET /api/health HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").unwrap();
    let mut raw = String::new();
    s.read_to_string(&mut raw).unwrap();
    let body = raw.split_once("\r\n\r\n").map_or("", |(_, b)| b);
    serde_json::from_str::<serde_json::Value>(body).unwrap()[section].clone()
}

//! Helpers for the socket-source tests: the real kpid binary with a socket, apps built on
//! the real `kpid-layer`, and a raw protocol client for misbehaving peers.
#![allow(dead_code)]

#[path = "../common/mod.rs"]
pub mod common;

#[allow(unused_imports)]
pub use common::{wait_for, Kpid};
use kpid_layer::{Builder, FlushGuard, KpidLayer};
use kpid_wire as wire;
use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use tracing_subscriber::prelude::*;

/// The real daemon binary, serving the socket `path`, with a fresh state directory of its
/// own (outside the socket's directory, whose permissions the daemon decides).
pub struct Daemon {
    pub kpid: Kpid,
    pub path: PathBuf,
    state: tempfile::TempDir,
}

impl Daemon {
    pub fn start(path: &Path) -> Daemon {
        let state = tempfile::tempdir().unwrap();
        let kpid = Kpid::start(
            state.path(),
            &[
                "--socket",
                path.to_str().unwrap(),
                "--state-dir",
                state.path().to_str().unwrap(),
            ],
        );
        Daemon {
            kpid,
            path: path.to_owned(),
            state,
        }
    }

    /// The latest view of one KPI id.
    pub fn latest(&self, id: &str) -> Option<serde_json::Value> {
        self.kpid.latest(id)
    }

    /// Counter `total`, or distribution `count`, of a KPI id.
    pub fn total(&self, id: &str) -> Option<f64> {
        let k = self.latest(id)?;
        k.get("total")
            .or_else(|| k.get("count"))
            .and_then(|v| v.as_f64())
    }

    /// The socket section of `/api/health`.
    pub fn socket_health(&self) -> serde_json::Value {
        self.kpid.json("/api/health")["socket"].clone()
    }

    /// SIGKILL: the socket file stays behind (stale), connections drop.
    pub fn kill(&mut self) {
        self.kpid.kill9();
    }

    /// SIGTERM and wait.
    pub fn stop(&mut self) {
        self.kpid.terminate();
    }
}

/// Waits until `id` totals exactly `want` (panics after `secs`), then checks it stays there.
pub fn expect_total(d: &Daemon, id: &str, want: f64, secs: u64) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        let got = d.total(id);
        if got == Some(want) {
            break;
        }
        assert!(Instant::now() < deadline, "{id}: want {want}, got {got:?}");
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(150));
    assert_eq!(d.total(id), Some(want), "{id} moved past {want}");
}

/// Polls `f` until true, panicking with `what` after `secs`.
pub fn wait_until(secs: u64, what: &str, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while !f() {
        assert!(Instant::now() < deadline, "timed out after {secs}s: {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A layer for app `app` on `path`.
pub fn app_layer(path: &Path, app: &str) -> (KpidLayer, FlushGuard) {
    Builder::default()
        .socket(path)
        .app(app)
        .max_backoff(Duration::from_millis(200))
        .build()
}

/// A daemon on a socket in a fresh directory and an app's layer connected to it (its first
/// connection attempt over). Keep the directory alive as long as the daemon.
pub fn connected_app(app: &str) -> (tempfile::TempDir, Daemon, KpidLayer, FlushGuard) {
    let dir = tempfile::tempdir().unwrap();
    let d = Daemon::start(&dir.path().join("kpid.sock"));
    let (layer, guard) = app_layer(&d.path, app);
    settled(&guard);
    (dir, d, layer, guard)
}

/// Runs `f` with `layer` as this thread's subscriber.
pub fn with_layer<R>(layer: KpidLayer, f: impl FnOnce() -> R) -> R {
    tracing::subscriber::with_default(tracing_subscriber::registry().with(layer), f)
}

/// Waits until the layer's first connection attempt is over.
pub fn settled(g: &FlushGuard) {
    wait_until(10, "layer's first connection attempt", || !g.connecting());
}

/// A raw protocol client.
pub struct Raw(pub UnixStream);

impl Raw {
    pub fn connect(path: &Path) -> Raw {
        let s = UnixStream::connect(path).expect("connect");
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        Raw(s)
    }

    /// Connects and completes the handshake as `app`.
    pub fn hello(path: &Path, app: &str) -> Raw {
        let mut r = Raw::connect(path);
        r.send_hello(wire::VERSION, app);
        let (t, _) = r.reply().expect("welcome");
        assert_eq!(wire::FrameType::from_u8(t), Some(wire::FrameType::Welcome));
        r
    }

    pub fn send_hello(&mut self, version: u16, app: &str) {
        let mut b = Vec::new();
        wire::encode_hello(
            &mut b,
            &wire::Hello {
                version,
                app,
                pid: std::process::id(),
                host: "test",
            },
        );
        self.0.write_all(&b).unwrap();
    }

    pub fn send(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        self.0.write_all(bytes)
    }

    /// Reads one frame from the daemon; None on EOF.
    pub fn reply(&mut self) -> Option<(u8, Vec<u8>)> {
        let mut head = [0u8; wire::HEADER_LEN];
        self.0.read_exact(&mut head).ok()?;
        let len = u32::from_le_bytes([head[0], head[1], head[2], head[3]]) as usize;
        let mut body = vec![0u8; len - 1];
        self.0.read_exact(&mut body).ok()?;
        Some((head[4], body))
    }

    /// Reads an `Error` frame: (code, message).
    pub fn error(&mut self) -> (u16, String) {
        let (t, body) = self.reply().expect("an error reply before the close");
        assert_eq!(wire::FrameType::from_u8(t), Some(wire::FrameType::Error));
        let (c, m) = wire::decode_error(&body).unwrap();
        (c, m.to_owned())
    }

    /// True when the daemon closed the connection (EOF).
    pub fn closed(&mut self) -> bool {
        let mut b = [0u8; 1];
        matches!(self.0.read(&mut b), Ok(0))
    }
}

/// Encodes one span frame.
pub fn span_frame(buf: &mut Vec<u8>, name: &str, dur_ns: u64, error: bool) {
    wire::encode_span(
        buf,
        &wire::SpanClose {
            name,
            target: "t",
            parent: "",
            start_unix_ns: 1,
            duration_ns: dur_ns,
            level: wire::Level::Info,
            error,
            fields: wire::Fields::default(),
        },
    );
}

//! The socket source under adverse conditions: daemon absent or restarted, misbehaving
//! clients, version mismatch, permissions.

mod socket_support;

use kpid_wire::{self as wire, code};
use socket_support::*;
use std::os::unix::fs::PermissionsExt;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

#[test]
fn daemon_absent_then_started_drops_are_counted_then_kpis_flow() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("kpid.sock");
    let (layer, guard) = app_layer(&path, "early");
    settled(&guard);
    let sub = tracing_subscriber::registry();
    use tracing_subscriber::prelude::*;
    let dispatch = tracing::Dispatch::new(sub.with(layer));
    tracing::dispatcher::with_default(&dispatch, || {
        for _ in 0..5000 {
            let _s = tracing::info_span!("work").entered();
            tracing::debug!("tick");
        }
    });
    let st = guard.stats();
    assert!(!st.connected);
    assert_eq!(
        (st.dropped[2], st.dropped[1], st.sent),
        (5000, 5000, 0),
        "{st:?}"
    );

    let d = Daemon::start(&path);
    wait_until(10, "the layer reconnects", || guard.stats().connected);
    tracing::dispatcher::with_default(&dispatch, || {
        for _ in 0..300 {
            let _s = tracing::info_span!("work").entered();
        }
    });
    assert!(guard.flush(Duration::from_secs(10)));
    expect_total(&d, r#"span_total{app="early",span="work"}"#, 300.0, 10);
    expect_total(
        &d,
        r#"app_dropped_total{app="early",level="info"}"#,
        5000.0,
        10,
    );
    expect_total(
        &d,
        r#"app_dropped_total{app="early",level="debug"}"#,
        5000.0,
        10,
    );
    assert_eq!(d.socket_health()["app_dropped"], 10_000);
}

#[test]
fn daemon_restarted_mid_run_and_the_layer_reconnects() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("kpid.sock");
    let mut d = Daemon::start(&path);
    let (layer, guard) = app_layer(&path, "steady");
    settled(&guard);
    let stop = Arc::new(AtomicBool::new(false));
    let emitted = Arc::new(AtomicU64::new(0));
    let app = {
        let (stop, emitted) = (stop.clone(), emitted.clone());
        std::thread::spawn(move || {
            with_layer(layer, || {
                while !stop.load(Ordering::Relaxed) {
                    let _s = tracing::info_span!("tick").entered();
                    emitted.fetch_add(1, Ordering::Relaxed);
                    std::thread::sleep(Duration::from_micros(200));
                }
            })
        })
    };
    let id = r#"span_total{app="steady",span="tick"}"#;
    wait_until(10, "spans reach the first daemon", || {
        d.total(id).unwrap_or(0.0) > 100.0
    });
    d.kill();
    assert!(
        path.exists(),
        "a killed daemon leaves its socket file behind"
    );
    std::thread::sleep(Duration::from_millis(300));
    let d2 = Daemon::start(&path);
    wait_until(10, "the layer reconnects to the new daemon", || {
        guard.stats().connects >= 2
    });
    wait_until(10, "spans reach the new daemon", || {
        d2.socket_health()["spans"].as_u64().unwrap_or(0) > 100
    });
    stop.store(true, Ordering::Relaxed);
    app.join().unwrap();
    assert!(guard.flush(Duration::from_secs(10)));
    let st = guard.stats();
    let dropped: u64 = st.dropped.iter().sum();
    assert_eq!(
        st.sent + dropped,
        emitted.load(Ordering::Relaxed),
        "every span sent or counted: {st:?}"
    );
    assert!(dropped > 0, "the restart window cost some spans: {st:?}");
    wait_until(10, "the new daemon hears about the drops", || {
        d2.total(r#"app_dropped_total{app="steady",level="info"}"#)
            .is_some()
    });
}

#[test]
fn garbage_truncated_oversized_and_unknown_frames_hurt_only_their_sender() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("kpid.sock");
    let d = Daemon::start(&path);
    let mut good = Raw::hello(&path, "good");
    let mut b = Vec::new();
    let mut send_good = |n: usize| {
        b.clear();
        for _ in 0..n {
            span_frame(&mut b, "ok", 1000, false);
        }
        good.send(&b).unwrap();
    };
    send_good(10);

    // Garbage instead of a hello.
    let mut g = Raw::connect(&path);
    g.send(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    let (c, msg) = g.error();
    assert_eq!(c, code::BAD_HANDSHAKE, "{msg}");
    assert!(g.closed());

    // A frame longer than the limit closes that connection with an explanation.
    let mut o = Raw::hello(&path, "big");
    let mut f = ((wire::MAX_FRAME_LEN + 1) as u32).to_le_bytes().to_vec();
    f.extend_from_slice(&[16; 64]);
    o.send(&f).unwrap();
    let (c, msg) = o.error();
    assert_eq!(c, code::OVERSIZED);
    assert!(msg.contains("out of range"), "{msg}");
    assert!(o.closed());

    // A malformed body and an unknown type are skipped; the connection goes on.
    let mut m = Raw::hello(&path, "sloppy");
    let mut f = Vec::new();
    f.extend_from_slice(&4u32.to_le_bytes());
    f.extend_from_slice(&[16, 0xff, 0xff, 0xff]); // span with a bad string length
    f.extend_from_slice(&3u32.to_le_bytes());
    f.extend_from_slice(&[99, 1, 2]); // unknown type
    span_frame(&mut f, "ok", 1000, true);
    m.send(&f).unwrap();
    expect_total(&d, r#"span_errors_total{app="sloppy",span="ok"}"#, 1.0, 10);

    // Truncated: a frame cut by the close.
    let mut t = Raw::hello(&path, "cut");
    let mut f = Vec::new();
    span_frame(&mut f, "ok", 1000, false);
    t.send(&f[..f.len() - 3]).unwrap();
    drop(t);

    send_good(10);
    expect_total(&d, r#"span_total{app="good",span="ok"}"#, 20.0, 10);
    wait_until(10, "the truncated frame is counted", || {
        d.socket_health()["rejected"]["truncated"] == 1
    });
    let h = d.socket_health();
    let r = &h["rejected"];
    assert_eq!(
        (r["bad_handshake"].as_u64(), r["oversized"].as_u64()),
        (Some(1), Some(1)),
        "{h}"
    );
    assert_eq!(
        (r["malformed"].as_u64(), r["unknown_type"].as_u64()),
        (Some(1), Some(1)),
        "{h}"
    );
    assert_eq!(h["rejected_total"], 5, "{h}");
}

#[test]
fn version_mismatch_gets_a_clear_error_reply() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("kpid.sock");
    let d = Daemon::start(&path);
    let mut r = Raw::connect(&path);
    r.send_hello(99, "future");
    let (c, msg) = r.error();
    assert_eq!(c, code::VERSION_MISMATCH);
    assert!(
        msg.contains("version 99") && msg.contains("speaks versions 1 to 2"),
        "{msg}"
    );
    assert!(r.closed());
    assert_eq!(d.socket_health()["rejected"]["version_mismatch"], 1);
}

#[test]
fn socket_is_owner_only_stale_replaced_live_kept_other_uids_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("run/kpid.sock");
    let mut d = Daemon::start(&path);
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&path), 0o600);
    assert_eq!(mode(path.parent().unwrap()), 0o700);

    // A second daemon on the same socket path (it must refuse to start).
    let second_daemon = || {
        std::process::Command::new(env!("CARGO_BIN_EXE_kpid"))
            .args([
                "--socket",
                path.to_str().unwrap(),
                "--port",
                "0",
                "--state-dir",
            ])
            .arg(dir.path().join("state2"))
            .output()
            .unwrap()
    };
    // A live socket is not taken over: a second daemon on the same path refuses to start.
    let out = second_daemon();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && err.contains("in use"), "{err}");
    assert!(
        d.total("nothing").is_none(),
        "the first daemon still answers"
    );
    // A stale one (left by a killed daemon) is replaced, owner-only again.
    d.kill();
    assert!(path.exists());
    let mut d = Daemon::start(&path);
    assert_eq!(mode(&path), 0o600);
    let _ = Raw::hello(&path, "probe");
    d.stop();
    assert!(!path.exists(), "removed on clean shutdown");
    // A regular file at the path is never deleted.
    std::fs::write(&path, b"keep").unwrap();
    let out = second_daemon();
    assert!(
        !out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(std::fs::read(&path).unwrap(), b"keep");
    std::fs::remove_file(&path).unwrap();

    // Another uid: kept out by the permissions, and refused by the uid check when the
    // permissions are loosened by hand.
    if unsafe_geteuid() != 0 {
        eprintln!("not root: the other-uid half of this test needs root to switch uid");
        return;
    }
    let d = Daemon::start(&path);
    let probe = |path: &std::path::Path| {
        let script = "import socket,struct,sys\n\
s=socket.socket(socket.AF_UNIX)\n\
try:\n s.connect(sys.argv[1])\nexcept OSError as e:\n print('denied', e.errno); sys.exit(0)\n\
h=b'KPID'+struct.pack('<H',1)+bytes([1])+b'x'+bytes([1])+bytes([1])+b'h'\n\
try:\n s.sendall(struct.pack('<I',len(h)+1)+bytes([1])+h)\nexcept OSError:\n pass\n\
d=s.recv(4096)\nprint('reply', d[4], struct.unpack('<H',d[5:7])[0], d[8:].decode())\n";
        let out = std::process::Command::new("python3")
            .args(["-c", script, path.to_str().unwrap()])
            .uid(65534)
            .gid(65534)
            .output()
            .expect("python3");
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr)
    };
    use std::os::unix::process::CommandExt;
    let out = probe(&path);
    assert!(out.starts_with("denied 13"), "{out}");
    for p in [dir.path(), path.parent().unwrap()] {
        std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o666)).unwrap();
    let out = probe(&path);
    assert!(
        out.starts_with(&format!("reply 3 {}", code::PEER_UID)),
        "{out}"
    );
    assert!(out.contains("peer uid 65534 is not allowed"), "{out}");
    assert_eq!(d.socket_health()["rejected"]["peer_uid"], 1);
}

fn unsafe_geteuid() -> u32 {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() }
}

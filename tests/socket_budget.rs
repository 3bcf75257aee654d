//! The socket's memory budget against the built binary: 1,000 connections that each announce
//! a 1 MiB frame and go silent (the stalled-frame attack) cost kpid a few MB, not a GB; those
//! over the budget are refused (`memory`), the stalled ones are closed after the frame timeout
//! (`stalled`), and an app that behaves keeps reporting throughout.

mod socket_support;

use socket_support::{common::Kpid, span_frame, wait_until, Raw};
use std::time::Duration;

fn rss_kb(pid: u32) -> u64 {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    s.lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}

#[test]
fn stalled_large_frames_stay_within_the_budget_and_time_out() {
    let dir = tempfile::tempdir().unwrap();
    let sock = dir.path().join("kpid.sock");
    std::fs::write(
        dir.path().join("kpid.toml"),
        "[apps]\nmemory_budget = 4194304\nframe_timeout = \"3s\"\n",
    )
    .unwrap();
    let k = Kpid::start(
        dir.path(),
        &[
            "--config",
            "kpid.toml",
            "--socket",
            sock.to_str().unwrap(),
            "--no-state",
        ],
    );
    let pid = k.child.id();
    let mut good = Raw::hello(&sock, "good");
    let mut b = Vec::new();
    span_frame(&mut b, "step", 1_000_000, false);
    good.send(&b).unwrap();
    std::thread::sleep(Duration::from_millis(500));
    let before = rss_kb(pid);
    // Each announces a 1 MiB span frame, sends its first 4 KiB, and goes silent.
    let mut frame_start = ((1u32 << 20) - 1).to_le_bytes().to_vec();
    frame_start.push(16);
    frame_start.extend(std::iter::repeat_n(0x41u8, 4096));
    let mut stalled = Vec::new();
    for i in 0..1000 {
        let mut r = Raw::connect(&sock);
        r.send_hello(kpid_wire::VERSION, &format!("attacker{i}"));
        if r.reply().is_none() {
            continue; // refused at the door
        }
        let _ = r.send(&frame_start);
        stalled.push(r);
    }
    std::thread::sleep(Duration::from_millis(800));
    let during = rss_kb(pid);
    eprintln!("kpid RSS: {before} kB before, {during} kB with 1000 stalled 1 MiB frames");
    let h = k.json("/api/health")["socket"].clone();
    assert!(h["rejected"]["memory"].as_u64().unwrap() > 900, "{h}");
    assert!(h["buffered_bytes"].as_u64().unwrap() <= 4 << 20, "{h}");
    assert!(
        during < before + 24 * 1024,
        "RSS grew from {before} kB to {during} kB"
    );
    // The good app still reports, while the attack holds.
    good.send(&b).unwrap();
    wait_until(10, "the good app's spans", || {
        k.latest("span_total{app=\"good\",span=\"step\"}")
            .and_then(|v| v["total"].as_f64())
            == Some(2.0)
    });
    // The frames that fit are closed as stalled once the frame timeout passes.
    wait_until(10, "stalled frames closed", || {
        let h = k.json("/api/health")["socket"].clone();
        h["rejected"]["stalled"].as_u64().unwrap() >= 1
            && h["buffered_bytes"].as_u64().unwrap() <= 64 << 10
    });
    let h = k.json("/api/health");
    assert_ne!(h["status"], "ok", "losses must show: {h}");
    drop(stalled);
}

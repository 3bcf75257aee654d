//! The rotation matrix: each scenario runs the tailer (`kpid::sources::tail`) over real files
//! while a writer thread appends fixed-width numbered lines and rotates, truncates, switches or
//! recreates the file, then checks every byte received against every byte written: zero lost,
//! zero duplicated, in order (in-place truncation: read + counted loss == written).
//!
//! Synchronisation is by waiting (up to 20 s) for what the tailer has delivered, never by timing.

mod tail_support;

use kpid::sources::tail::TailConfig;
use std::fs;
use std::os::unix::fs::symlink;
use std::sync::atomic::Ordering;
use tail_support::*;

/// Starts a harness following `rel` (a file present, possibly empty, or absent).
fn follow(rel: &str, setup: impl FnOnce(&Harness)) -> Harness {
    let mut h = Harness::new();
    setup(&h);
    let cfg = h.config(&[rel]);
    h.start(cfg, 4);
    h
}

/// Rename rotation, logrotate `create` style: the file is renamed, an empty one is created in
/// its place at once, the app writes 300 more lines to its old descriptor, then reopens. Lines
/// present before startup are skipped (`from_start` is false).
#[test]
fn rename_rotation_finishes_old_file_first() {
    let h = follow("a.log", |h| {
        fs::write(h.path("a.log"), lines("pre", 0..50)).unwrap()
    });
    wait_until("following", || h.health_of("a.log").state == "following");
    let (got, p) = (h.got.clone(), h.path("a.log"));
    let want = std::thread::spawn(move || {
        let mut w = Writer::open(&p);
        for gen in 0..3 {
            let tag = format!("g{gen}");
            w.lines(&tag, 0..1);
            got.wait_len(w.written.len());
            w.lines(&tag, 1..2000);
            fs::rename(&p, p.with_extension(format!("log.{gen}"))).unwrap();
            drop(append(&p));
            w.lines(&tag, 2000..2300);
            w.reopen(&p);
        }
        w.lines("g3", 0..1000);
        w.written
    })
    .join()
    .unwrap();
    finish(h, &want, "a.log", 3);
}

/// Waits for `want`, stops, checks the stream and the rotations counted for `rel`.
fn finish(mut h: Harness, want: &[u8], rel: &str, rotations: u64) {
    h.got.wait_len(want.len());
    let data = h.stop();
    assert_same(&data, want);
    let health = h.health_of(rel);
    assert_eq!(health.rotations, rotations, "{health:?}");
    assert_eq!(
        health.lines,
        want.iter().filter(|&&b| b == b'\n').count() as u64
    );
    assert_eq!(health.truncated_bytes_lost, 0);
}

/// copytruncate: the file is copied aside, then truncated; the writer keeps its descriptor.
/// The unread tail comes from the copy, then the file is read from 0.
#[test]
fn copytruncate_recovers_tail_from_copy() {
    let h = follow("a.log", |h| drop(append(&h.path("a.log"))));
    wait_until("following", || h.health_of("a.log").state == "following");
    let (got, p) = (h.got.clone(), h.path("a.log"));
    let want = std::thread::spawn(move || {
        let mut w = Writer::open(&p);
        for gen in 0..3 {
            let tag = format!("g{gen}");
            w.lines(&tag, 0..1);
            got.wait_len(w.written.len());
            w.lines(&tag, 1..2000);
            fs::copy(&p, p.with_extension(format!("log.{gen}"))).unwrap();
            w.file.set_len(0).unwrap();
        }
        w.lines("g3", 0..1000);
        w.written
    })
    .join()
    .unwrap();
    finish(h, &want, "a.log", 3);
}

/// copytruncate noticed late: the consumer is stalled (the tailer waits on a full channel a
/// few hundred KiB into a 640 KB file) while the file is copied, truncated and refilled with
/// 960 KB, past the old offset. The fingerprint of the head tells; nothing is lost.
#[test]
fn copytruncate_with_new_content_past_old_offset() {
    let mut h = Harness::new();
    let p = h.path("a.log");
    let old = lines("old", 0..20_000);
    fs::write(&p, &old).unwrap();
    h.got.paused.store(true, Ordering::SeqCst);
    let cfg = from_start(h.config(&["a.log"]));
    h.start(cfg, 1);
    wait_until("a first batch", || h.health_of("a.log").offset > 0);
    fs::copy(&p, h.path("a.log.1")).unwrap();
    let new = lines("new", 0..30_000);
    let mut w = Writer::open(&p);
    w.file.set_len(0).unwrap();
    w.raw(&new);
    h.got.paused.store(false, Ordering::SeqCst);
    finish(h, &[old, new].concat(), "a.log", 1);
}

/// In-place truncation (no copy): with the consumer stalled mid-file, the file is emptied and
/// refilled past the old offset. What was never read is lost, and counted: read + lost ==
/// written, and what was read is exact.
#[test]
fn inplace_truncation_counts_loss() {
    let mut h = Harness::new();
    let p = h.path("a.log");
    let old = lines("old", 0..20_000);
    fs::write(&p, &old).unwrap();
    h.got.paused.store(true, Ordering::SeqCst);
    let cfg = from_start(h.config(&["a.log"]));
    h.start(cfg, 1);
    wait_until("a first batch", || h.health_of("a.log").offset > 0);
    let new = lines("new", 0..30_000);
    let mut w = Writer::open(&p);
    w.file.set_len(0).unwrap();
    w.raw(&new);
    h.got.paused.store(false, Ordering::SeqCst);
    let total = old.len() + new.len();
    wait_until("read + lost == written", || {
        h.got.len() + h.health_of("a.log").truncated_bytes_lost as usize >= total
    });
    let lost = h.health_of("a.log").truncated_bytes_lost as usize;
    let data = h.stop();
    assert!(lost > 0, "the stalled tailer cannot have read everything");
    assert_eq!(data.len() + lost, total);
    let kept = old.len() - lost;
    assert_same(&data[..kept], &old[..kept]);
    assert_same(&data[kept..], &new);
}

/// Delete and recreate: each generation is deleted (the tailer still reads what is left through
/// its descriptor) and a new file is created at the path.
#[test]
fn delete_and_recreate() {
    let h = follow("a.log", |_| {});
    let (got, p) = (h.got.clone(), h.path("a.log"));
    let want = std::thread::spawn(move || {
        let mut w = Writer::open(&p);
        for gen in 0..3 {
            let tag = format!("g{gen}");
            w.lines(&tag, 0..1);
            got.wait_len(w.written.len());
            w.lines(&tag, 1..1500);
            fs::remove_file(&p).unwrap();
            w.reopen(&p);
        }
        w.lines("g3", 0..1000);
        w.written
    })
    .join()
    .unwrap();
    finish(h, &want, "a.log", 3);
}

/// A file that does not exist yet is reported as waiting, then read from 0 when it appears.
#[test]
fn late_file() {
    let h = follow("a.log", |_| {});
    wait_until("waiting", || h.health_of("a.log").state == "waiting");
    let p = h.path("a.log");
    let want = std::thread::spawn(move || {
        let mut w = Writer::open(&p);
        w.lines("late", 0..3000);
        w.written
    })
    .join()
    .unwrap();
    wait_until("following", || h.health_of("a.log").state == "following");
    finish(h, &want, "a.log", 0);
}

/// A file in directories that do not exist yet.
#[test]
fn late_directory() {
    let h = follow("x/y/z/a.log", |_| {});
    wait_until("waiting", || h.health_of("x/y/z/a.log").state == "waiting");
    let p = h.path("x/y/z/a.log");
    let want = std::thread::spawn(move || {
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        let mut w = Writer::open(&p);
        w.lines("late", 0..3000);
        w.written
    })
    .join()
    .unwrap();
    finish(h, &want, "x/y/z/a.log", 0);
}

/// A symlink atomically switched to a new target (in another directory); the app writes 200
/// more lines to the old target after the switch, then moves to the new one.
#[test]
fn symlink_switched_to_new_target() {
    let h = follow("current.log", |h| {
        fs::create_dir(h.path("t")).unwrap();
        drop(append(&h.path("t/gen0.log")));
        symlink(h.path("t/gen0.log"), h.path("current.log")).unwrap();
    });
    wait_until("following", || {
        h.health_of("current.log").state == "following"
    });
    let (got, root) = (h.got.clone(), h.dir.path().to_path_buf());
    let want = std::thread::spawn(move || {
        let mut w = Writer::open(&root.join("t/gen0.log"));
        for gen in 0..3 {
            let tag = format!("g{gen}");
            w.lines(&tag, 0..1);
            got.wait_len(w.written.len());
            w.lines(&tag, 1..2000);
            let next = root.join(format!("t/gen{}.log", gen + 1));
            drop(append(&next));
            symlink(&next, root.join("tmp.link")).unwrap();
            fs::rename(root.join("tmp.link"), root.join("current.log")).unwrap();
            w.lines(&tag, 2000..2200);
            w.reopen(&next);
        }
        w.lines("g3", 0..1000);
        w.written
    })
    .join()
    .unwrap();
    finish(h, &want, "current.log", 3);
}

/// A line written in two parts 200 ms apart is one line; a last line without `\n` is emitted
/// (with one) after the flush timeout.
#[test]
fn partial_lines() {
    let h = follow("a.log", |h| drop(append(&h.path("a.log"))));
    wait_until("following", || h.health_of("a.log").state == "following");
    let p = h.path("a.log");
    let mut want = std::thread::spawn(move || {
        let mut w = Writer::open(&p);
        for k in 0..5 {
            w.lines("full", k * 100..k * 100 + 100);
            let l = line("split", k);
            w.raw(&l[..13]);
            std::thread::sleep(std::time::Duration::from_millis(200));
            w.raw(&l[13..]);
        }
        w.raw(b"last line, no newline");
        w.written
    })
    .join()
    .unwrap();
    want.push(b'\n');
    finish(h, &want, "a.log", 0);
}

/// Lines over the cap (here 1000 bytes) are discarded and counted, the next line is intact; a
/// line exactly at the cap is kept; a 300 KB line written in pieces spans several reads.
#[test]
fn long_lines_discarded_and_counted() {
    let mut h = Harness::new();
    drop(append(&h.path("a.log")));
    let mut cfg = h.config(&["a.log"]);
    cfg.max_line_bytes = 1000;
    h.start(cfg, 4);
    wait_until("following", || h.health_of("a.log").state == "following");
    let p = h.path("a.log");
    let want = std::thread::spawn(move || {
        let mut w = Writer::open(&p);
        let mut want = Vec::new();
        for k in 0..4 {
            let before = w.written.len();
            w.lines("ok", k * 100..k * 100 + 100);
            want.extend_from_slice(&w.written[before..]);
            match k {
                0 => w.raw(&[vec![b'x'; 1001], b"\n".to_vec()].concat()),
                1 => {
                    let at_cap = [vec![b'y'; 1000], b"\n".to_vec()].concat();
                    w.raw(&at_cap);
                    want.extend_from_slice(&at_cap);
                }
                2 => w.raw(&[vec![b'z'; 5000], b"\r\n".to_vec()].concat()),
                _ => {
                    for _ in 0..10 {
                        w.raw(&[b'w'; 30_000]);
                        std::thread::sleep(std::time::Duration::from_millis(20));
                    }
                    w.raw(b"\n");
                }
            }
        }
        let before = w.written.len();
        w.lines("ok", 400..500);
        want.extend_from_slice(&w.written[before..]);
        want
    })
    .join()
    .unwrap();
    wait_until("3 long lines counted", || {
        h.health_of("a.log").discarded_long_lines == 3
    });
    finish(h, &want, "a.log", 0);
}

/// Invalid UTF-8 is kept byte for byte (and counted); CRLF is kept.
#[test]
fn invalid_utf8_and_crlf_kept_exact() {
    let h = follow("a.log", |h| drop(append(&h.path("a.log"))));
    wait_until("following", || h.health_of("a.log").state == "following");
    let p = h.path("a.log");
    let want = std::thread::spawn(move || {
        let mut w = Writer::open(&p);
        for n in 0..3000 {
            match n % 3 {
                0 => w.raw(&line("utf8", n)),
                1 => w.raw(format!("{n:08} crlf line\r\n").as_bytes()),
                _ => w.raw(&[&b"\xff\xfe bad \xc3"[..], format!("{n:08}\n").as_bytes()].concat()),
            }
        }
        w.written
    })
    .join()
    .unwrap();
    wait_until("invalid lines counted", || {
        h.health_of("a.log").invalid_utf8_lines == 1000
    });
    finish(h, &want, "a.log", 0);
}

/// Glob: files present at startup are read (here from the start), new matching files are
/// picked up, non-matching files and matching directories are ignored.
#[test]
fn glob_picks_up_new_files() {
    let mut h = Harness::new();
    fs::create_dir(h.path("logs")).unwrap();
    fs::write(h.path("logs/a.log"), lines("a", 0..500)).unwrap();
    let cfg = from_start(h.config(&["logs/*.log"]));
    h.start(cfg, 4);
    h.got.wait_len(500 * 32);
    let root = h.dir.path().to_path_buf();
    let (a, b, d) = std::thread::spawn(move || {
        let mut a = Writer::open(&root.join("logs/a.log"));
        a.written = lines("a", 0..500);
        a.lines("a", 500..1000);
        fs::create_dir(root.join("logs/sub.log")).unwrap();
        fs::write(root.join("logs/c.txt"), lines("c", 0..100)).unwrap();
        let mut b = Writer::open(&root.join("logs/b.log"));
        b.lines("b", 0..1000);
        let mut d = Writer::open(&root.join("logs/d.log"));
        d.lines("d", 0..700);
        a.lines("a", 1000..1200);
        (a.written, b.written, d.written)
    })
    .join()
    .unwrap();
    h.got.wait_len(a.len() + b.len() + d.len());
    h.stop();
    let by_path = h.got.by_path.lock().clone();
    assert_eq!(by_path.len(), 3, "{:?}", by_path.keys());
    assert_same(&by_path[&h.path("logs/a.log")], &a);
    assert_same(&by_path[&h.path("logs/b.log")], &b);
    assert_same(&by_path[&h.path("logs/d.log")], &d);
    for f in ["logs/a.log", "logs/b.log", "logs/d.log"] {
        assert_eq!(h.health_of(f).state, "following");
    }
}

/// Resume from checkpoints: exactly where the last run stopped, also when the file was renamed
/// away or copytruncated while kpid was down.
#[test]
fn resume_from_checkpoint() {
    let mut h = Harness::new();
    let p = h.path("a.log");
    let mut w = Writer::open(&p);
    w.lines("p1", 0..3000);
    let run =
        |h: &mut Harness, resume: Option<kpid::sources::tail::FileCheckpoint>, want: &[u8]| {
            let mut cfg = h.config(&["a.log"]);
            cfg.from_start = resume.is_none();
            cfg.resume = resume.into_iter().collect();
            h.reset();
            h.start(cfg, 4);
            h.got.wait_len(want.len());
            assert_same(&h.stop(), want);
            h.got.checkpoints.lock()[&p].clone()
        };
    let cp = run(&mut h, None, &w.written);
    assert_eq!(cp.offset, 3000 * 32);

    // Appended while down.
    w.lines("p2", 0..1000);
    let cp = run(&mut h, Some(cp), &lines("p2", 0..1000));

    // Appended, renamed away, appended to the old file, new file created: all while down.
    w.lines("p3", 0..500);
    fs::rename(&p, h.path("a.log.1")).unwrap();
    w.lines("p3", 500..700);
    let mut w = Writer::open(&p);
    w.lines("p4", 0..800);
    let cp = run(
        &mut h,
        Some(cp),
        &[lines("p3", 0..700), lines("p4", 0..800)].concat(),
    );

    // Appended, then copytruncated, then new lines: all while down.
    w.lines("p5", 0..300);
    fs::copy(&p, h.path("a.log.copy")).unwrap();
    w.file.set_len(0).unwrap();
    w.lines("p6", 0..400);
    run(
        &mut h,
        Some(cp),
        &[lines("p5", 0..300), lines("p6", 0..400)].concat(),
    );
}

/// A path that is not a readable regular file is reported (state `error`, `last_error`) and
/// retried until it is. As root chmod 000 does not stop reads, so a directory at the path is
/// the unreadable case; the chmod case is checked too when not running as root.
#[test]
fn unreadable_file_reported_and_retried() {
    let h = follow("a.log", |h| fs::create_dir(h.path("a.log")).unwrap());
    wait_until("error state", || {
        let f = h.health_of("a.log");
        f.state == "error" && f.last_error.is_some()
    });
    fs::remove_dir(h.path("a.log")).unwrap();
    let mut w = Writer::open(&h.path("a.log"));
    w.lines("ok", 0..500);
    wait_until("following again", || {
        h.health_of("a.log").state == "following"
    });
    assert_eq!(h.health_of("a.log").last_error, None);

    let root = unsafe { libc::geteuid() } == 0;
    use std::os::unix::fs::PermissionsExt;
    fs::rename(h.path("a.log"), h.path("a.log.1")).unwrap();
    let mut w2 = Writer::open(&h.path("a.log"));
    fs::set_permissions(h.path("a.log"), fs::Permissions::from_mode(0o000)).unwrap();
    w2.lines("locked", 0..300);
    if !root {
        wait_until("permission error", || h.health_of("a.log").state == "error");
    }
    fs::set_permissions(h.path("a.log"), fs::Permissions::from_mode(0o644)).unwrap();
    w2.lines("locked", 300..400);
    finish(h, &[w.written, w2.written].concat(), "a.log", 1);
}

/// One-shot: reads every matching file to its end once (partial last line included) and stops
/// by itself.
#[test]
fn one_shot_reads_everything_and_stops() {
    let mut h = Harness::new();
    let a = [lines("a", 0..5000), b"unterminated".to_vec()].concat();
    fs::write(h.path("a.log"), &a).unwrap();
    fs::write(h.path("b.log"), lines("b", 0..3000)).unwrap();
    let mut cfg = h.config(&["*.log"]);
    cfg.exit_at_eof = true;
    h.start(cfg, 2);
    h.wait_one_shot();
    let by_path = h.got.by_path.lock().clone();
    assert_same(&by_path[&h.path("a.log")], &[a, b"\n".to_vec()].concat());
    assert_same(&by_path[&h.path("b.log")], &lines("b", 0..3000));
}

/// `cfg` reading files present at startup from their start.
fn from_start(mut cfg: TailConfig) -> TailConfig {
    cfg.from_start = true;
    cfg
}

/// Stopping works while the tailer waits on a full channel, and what it sent is exact.
#[test]
fn stop_while_consumer_stalled() {
    let mut h = Harness::new();
    let all = lines("x", 0..20_000);
    fs::write(h.path("a.log"), &all).unwrap();
    h.got.paused.store(true, Ordering::SeqCst);
    let cfg = from_start(h.config(&["a.log"]));
    h.start(cfg, 1);
    wait_until("a first batch", || h.health_of("a.log").offset > 0);
    // Harness::stop stops the tailer first and only then lets the collector drain.
    let stopper = std::thread::spawn(move || {
        let data = h.stop();
        (h, data)
    });
    wait_until("stop to return", || stopper.is_finished());
    let (_h, data) = stopper.join().unwrap();
    assert!(
        !data.is_empty() && data.len() < all.len(),
        "{} bytes",
        data.len()
    );
    assert_same(&data, &all[..data.len()]);
}

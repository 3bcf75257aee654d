//! Crash-contained plugins against the real daemon: a plugin that segfaults, aborts, loops,
//! leaks, or reports oversized or out-of-bounds output costs the line it was parsing and
//! nothing else; the failure is counted and named in /api/health; a plugin that keeps
//! crashing is quarantined until its file changes; a restart after a crash does not crash
//! again.

mod common;
mod plugin_support;

use common::*;
use plugin_support::*;
use serde_json::Value;
use std::path::Path;

/// A daemon following `bad.log` with the `evil` test plugin and `good.log` with `logfmt`.
struct Setup {
    dir: tempfile::TempDir,
    plugins: tempfile::TempDir,
}

impl Setup {
    fn new(plugins_table: &str) -> Setup {
        let dir = tempfile::tempdir().unwrap();
        let plugins = plugin_dir();
        cc_plugin("evil.c", &plugins.path().join("evil.so"), &[]);
        append(&dir.path().join("bad.log"), "");
        append(&dir.path().join("good.log"), "");
        let cfg = format!(
            r#"plugin_dir = "{}"
[plugins]
{plugins_table}

[[source]]
name = "bad"
path = "{}"
parser = "evil"

[[source]]
name = "good"
path = "{}"
parser = "logfmt"

[[rule]]
name = "evil_sum"
kind = "counter"
field = "evil_n"
source = "bad"
"#,
            plugins.path().display(),
            dir.path().join("bad.log").display(),
            dir.path().join("good.log").display(),
        );
        std::fs::write(dir.path().join("kpid.toml"), cfg).unwrap();
        Setup { dir, plugins }
    }

    fn start(&self, extra: &[&str]) -> Kpid {
        let mut args = vec!["--config", "kpid.toml", "--no-socket", "--from-start"];
        args.extend_from_slice(extra);
        Kpid::start(self.dir.path(), &args)
    }

    fn bad(&self, lines: &str) {
        append(&self.dir.path().join("bad.log"), lines);
    }

    fn good(&self, lines: &str) {
        append(&self.dir.path().join("good.log"), lines);
    }

    fn bad_len(&self) -> u64 {
        std::fs::metadata(self.dir.path().join("bad.log"))
            .unwrap()
            .len()
    }
}

/// The current version of the `evil` plugin in /api/health.
fn evil(k: &Kpid) -> Value {
    let h = k.json("/api/health");
    h["plugins"]
        .as_array()
        .unwrap()
        .iter()
        .rev()
        .find(|p| p["name"] == "evil" && p["status"] == "loaded")
        .cloned()
        .unwrap_or_else(|| panic!("no loaded evil plugin in {h}"))
}

fn total(k: &Kpid, id: &str) -> Option<f64> {
    k.latest(id)?["total"].as_f64()
}

fn gauge(k: &Kpid, id: &str) -> Option<f64> {
    k.latest(id)?["value"].as_f64()
}

fn figure(p: &Value, key: &str) -> u64 {
    p[key]
        .as_u64()
        .unwrap_or_else(|| panic!("{key} missing in {p}"))
}

#[test]
fn each_failure_costs_its_line_and_nothing_else() {
    let s = Setup::new("line_timeout = \"300ms\"\nmemory_limit = \"128MiB\"\nmax_crashes = 100");
    let k = s.start(&["--no-state"]);
    s.good("x=5\n");
    s.bad("a=1\n");
    let segv_at = s.bad_len();
    s.bad("segv\nb=2\n");
    wait_for(20, "the line after the segfault", || {
        (total(&k, "evil_sum_total") == Some(3.0)).then_some(())
    });
    let p = evil(&k);
    assert_eq!(p["mode"], "worker", "{p}");
    assert_eq!(figure(&p, "crashes"), 1, "{p}");
    let poison = &p["last_poison"];
    assert_eq!(poison["source"], "bad", "{p}");
    assert_eq!(poison["offset"].as_u64(), Some(segv_at), "{p}");
    assert_eq!(poison["reason"], "crashed (SIGSEGV)", "{p}");

    s.bad("abort\nc=4\nloop\nd=8\n");
    s.bad("hugekey=1000\nhugeval=1000\nmany=1000\noob=1000\n");
    s.bad(&"leak=0\n".repeat(20));
    s.bad("z=16\n");
    s.good("x=7\n");
    wait_for(30, "every good line of bad.log", || {
        (total(&k, "evil_sum_total") == Some(31.0)).then_some(())
    });
    let p = evil(&k);
    assert_eq!(figure(&p, "crashes"), 2, "segv and abort: {p}");
    assert_eq!(figure(&p, "timeouts"), 1, "{p}");
    // A worker that dies loses the results of the request's earlier lines too: they are sent
    // again, to a fresh worker, so a leak on every line can hit the limit more than once.
    let memory = figure(&p, "memory_limit_hits");
    assert!(memory >= 1, "{p}");
    assert_eq!(figure(&p, "refused_output"), 4, "{p}");
    assert_eq!(p["quarantined"], false, "{p}");
    let h = k.json("/api/health");
    let bad = h["sources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| {
            f["source"] == "bad" || f["path"].as_str().is_some_and(|p| p.ends_with("bad.log"))
        })
        .unwrap_or_else(|| panic!("bad.log missing in {h}"));
    // segv, abort, loop, four refused outputs, the leak lines at the limit.
    assert_eq!(bad["parse_errors"], 7 + memory, "{h}");
    assert_eq!(h["status"], "warn", "lost lines show: {h}");
    // The other source and the oversized values never reached the store.
    wait_for(10, "the other source's last line", || {
        (gauge(&k, "x{source=\"good\"}") == Some(7.0)).then_some(())
    });
    let latest = k.json("/api/metrics/latest").to_string();
    assert!(!latest.contains("kkkkkkkkkk") && !latest.contains("vvvvvvvvvv"));
    assert!(!latest.contains("evil_oob") && !latest.contains("evil_many"));
    let (code, metrics) = k.get("/metrics");
    assert_eq!(code, 200);
    assert!(
        metrics.contains("kpid_plugin_crashes_total{plugin=\"evil\""),
        "{metrics}"
    );
}

#[test]
fn a_plugin_that_keeps_crashing_is_quarantined_until_its_file_changes() {
    let s = Setup::new("max_crashes = 2\ncrash_window = \"5m\"");
    let k = s.start(&["--no-state"]);
    s.bad("a=1\n");
    wait_for(20, "the first line", || {
        (total(&k, "evil_sum_total") == Some(1.0)).then_some(())
    });
    s.bad("segv\nsegv\n");
    wait_for(20, "the quarantine", || {
        (evil(&k)["quarantined"] == true).then_some(())
    });
    s.bad("b=2\n");
    wait_for(20, "a line skipped in quarantine", || {
        (figure(&evil(&k), "quarantined_lines") >= 1).then_some(())
    });
    assert_eq!(total(&k, "evil_sum_total"), Some(1.0));
    let h = k.json("/api/health");
    assert_eq!(
        h["status"], "error",
        "a quarantined plugin loses lines: {h}"
    );

    // A new file: a new version, out of quarantine.
    let build = tempfile::tempdir().unwrap();
    cc_plugin(
        "evil.c",
        &build.path().join("evil.so"),
        &["-DEVIL_VERSION=\"2.0\""],
    );
    install(&build.path().join("evil.so"), s.plugins.path(), "evil.so");
    wait_for(20, "version 2.0", || {
        (evil(&k)["version"] == "2.0").then_some(())
    });
    s.bad("c=4\n");
    wait_for(20, "a line parsed by the new version", || {
        (total(&k, "evil_sum_total") == Some(5.0)).then_some(())
    });
    let p = evil(&k);
    assert_eq!(
        (p["quarantined"].clone(), figure(&p, "crashes")),
        (false.into(), 0),
        "{p}"
    );
    assert_ne!(k.json("/api/health")["status"], "error");
}

/// Crash a worker, stop the daemon with `stop`, restart it on the same state directory.
/// `again`: the most crashes the restarted daemon may count (the poison line read again).
fn restart_after_a_crash(stop: fn(&mut Kpid), again: u64) {
    let s = Setup::new("max_crashes = 3");
    let state = s.dir.path().join("state");
    let state_arg = state.to_str().unwrap().to_owned();
    let mut k = s.start(&["--state-dir", &state_arg]);
    s.bad("a=1\nsegv\nb=2\n");
    wait_for(20, "the lines around the crash", || {
        (total(&k, "evil_sum_total") == Some(3.0)).then_some(())
    });
    assert_eq!(figure(&evil(&k), "crashes"), 1);
    stop(&mut k);

    // Whether or not the checkpoint covered the poison line (SIGKILL may come before it is
    // written), the daemon keeps running: the
    // worker dies, not the daemon, and the line is counted at most once more.
    let k = s.start(&["--state-dir", &state_arg]);
    s.bad("c=4\n");
    wait_for(20, "the line after the restart", || {
        (total(&k, "evil_sum_total") == Some(7.0)).then_some(())
    });
    std::thread::sleep(std::time::Duration::from_millis(500));
    let mut k = k;
    assert!(k.child.try_wait().unwrap().is_none(), "the daemon died");
    let p = evil(&k);
    assert!(figure(&p, "crashes") <= again, "{p}");
    assert_eq!(p["quarantined"], false, "{p}");
    k.terminate();
    assert!(Path::new(&state).exists());
}

#[test]
fn a_restart_after_a_plugin_crash_does_not_crash_again() {
    restart_after_a_crash(Kpid::kill9, 1);
}

#[test]
fn a_restart_after_sigterm_following_a_plugin_crash_does_not_crash_again() {
    // A clean stop writes the checkpoint: the poison line is not read again.
    restart_after_a_crash(Kpid::terminate, 0);
}

//! `kpid run -- CMD` against the built binary: the pipeline's exit code (and 128+N for a
//! signal death) becomes kpid's, signals reach it, its stdout and stderr still reach the
//! terminal and become KPIs, `KPID_SOCKET` reaches it (its spans arrive), and its
//! grandchildren's CPU is counted.

mod common;

use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

fn kpid_run(dir: &std::path::Path, extra: &[&str], cmd: &[&str]) -> Child {
    Command::new(env!("CARGO_BIN_EXE_kpid"))
        .arg("run")
        .args(["--port", "0", "--no-state", "--socket", "k.sock"])
        .args(["--otlp", "127.0.0.1:0"])
        .args(extra)
        .arg("--")
        .args(cmd)
        .current_dir(dir)
        .env("KPID_LOG", "kpid=info,warn")
        .env(
            "PYTHONPATH",
            concat!(env!("CARGO_MANIFEST_DIR"), "/clients/python"),
        )
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// Reads kpid's stderr until it prints its address; returns the port and the reader.
fn port_of(child: &mut Child) -> (u16, BufReader<std::process::ChildStderr>) {
    let mut err = BufReader::new(child.stderr.take().unwrap());
    let mut line = String::new();
    loop {
        line.clear();
        assert!(
            err.read_line(&mut line).unwrap() > 0,
            "kpid ended before listening"
        );
        if let Some(rest) = line.trim().strip_prefix("kpid listening on http://") {
            let port = rest.trim_end_matches('/').rsplit(':').next().unwrap();
            return (port.parse().unwrap(), err);
        }
    }
}

fn wait(child: &mut Child, secs: u64) -> i32 {
    for _ in 0..secs * 20 {
        if let Some(st) = child.try_wait().unwrap() {
            return st.code().expect("kpid exits, not killed");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    panic!("kpid did not exit within {secs}s");
}

fn sigterm(child: &Child) {
    // SAFETY: a signal to our own child's pid.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
}

#[test]
fn exit_codes_pass_through_including_a_signal_death() {
    let dir = tempfile::tempdir().unwrap();
    let mut k = kpid_run(
        dir.path(),
        &[],
        &["sh", "-c", "echo out-line; echo err-line >&2; exit 7"],
    );
    let mut out = String::new();
    k.stdout.take().unwrap().read_to_string(&mut out).unwrap();
    let mut err = String::new();
    k.stderr.take().unwrap().read_to_string(&mut err).unwrap();
    assert_eq!(wait(&mut k, 20), 7);
    assert_eq!(
        out, "out-line\n",
        "the pipeline's stdout, and only it, on kpid's stdout"
    );
    assert!(err.contains("err-line"), "{err}");
    let mut k = kpid_run(dir.path(), &[], &["sh", "-c", "kill -9 $$"]);
    assert_eq!(wait(&mut k, 20), 128 + 9);
    let mut k = kpid_run(dir.path(), &[], &["/no/such/program"]);
    assert_eq!(wait(&mut k, 20), 127);
}

#[test]
fn signals_are_forwarded_to_the_pipeline() {
    let dir = tempfile::tempdir().unwrap();
    let script = "trap 'echo got-term; exit 5' TERM; echo ready; while :; do sleep 0.05; done";
    let mut k = kpid_run(dir.path(), &[], &["sh", "-c", script]);
    let mut out = BufReader::new(k.stdout.take().unwrap());
    let mut line = String::new();
    out.read_line(&mut line).unwrap();
    assert_eq!(line, "ready\n");
    sigterm(&k);
    line.clear();
    out.read_line(&mut line).unwrap();
    assert_eq!(line, "got-term\n");
    assert_eq!(wait(&mut k, 20), 5);
}

#[test]
fn output_lines_become_kpis_the_socket_reaches_the_child_and_grandchildren_count() {
    let dir = tempfile::tempdir().unwrap();
    // A pipeline that logs JSON on stdout, warnings on stderr, sends spans with the Python
    // client (through KPID_SOCKET alone), and runs a busy grandchild.
    let py = "import kpid_client, time\nc = kpid_client.Client(app='runner')\n@c.traced('step')\ndef step():\n    time.sleep(0.001)\nfor _ in range(20):\n    step()\nc.flush()\n";
    std::fs::write(dir.path().join("app.py"), py).unwrap();
    let script = "python3 app.py; \
        for i in 1 2 3; do echo \"{\\\"level\\\":\\\"info\\\",\\\"fps\\\":$((20+i))}\"; echo 'WARN queue high' >&2; done; \
        timeout 8 sh -c 'while :; do :; done' & wait; exit 0";
    let mut k = kpid_run(dir.path(), &["--keep"], &["sh", "-c", script]);
    let (port, _err) = port_of(&mut k);
    let latest = |id: &str| -> Option<serde_json::Value> {
        let (s, body) = common::http_get(port, "/api/metrics/latest");
        if s != 200 {
            return None;
        }
        let v: serde_json::Value = serde_json::from_str(&body).ok()?;
        v["kpis"]
            .as_array()?
            .iter()
            .find(|k| k["id"] == id)
            .cloned()
    };
    let spans = common::wait_for(20, "the child's spans over KPID_SOCKET", || {
        latest("span_total{app=\"runner\",span=\"step\"}")
            .and_then(|k| k["total"].as_f64())
            .filter(|t| *t >= 20.0)
    });
    assert_eq!(spans, 20.0);
    let fps = common::wait_for(20, "fps from stdout", || {
        latest("frames_per_second{source=\"stdout\"}").and_then(|k| k["value"].as_f64())
    });
    assert_eq!(fps, 23.0);
    common::wait_for(20, "stderr lines", || {
        latest("log_lines_total{level=\"warn\",source=\"stderr\"}")
            .and_then(|k| k["total"].as_f64())
            .filter(|t| *t == 3.0)
    });
    // The busy grandchild's CPU shows in the pipeline's total.
    let cpu = common::wait_for(20, "the grandchild's cpu", || {
        latest("pipeline_cpu_utilization_ratio")
            .and_then(|k| k["value"].as_f64())
            .filter(|c| *c > 0.2)
    });
    assert!(cpu <= 2.5, "{cpu}");
    // --keep: still up after the pipeline ended; SIGTERM stops it with the pipeline's code.
    std::thread::sleep(Duration::from_secs(8));
    assert_eq!(common::http_get(port, "/api/health").0, 200);
    sigterm(&k);
    assert_eq!(wait(&mut k, 20), 0);
}

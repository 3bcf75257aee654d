//! Plugin output is bounded and checked on both paths (in-process and worker): too many
//! fields, a key or a value too long, a pointer past the line are refused with a reason and
//! counted, never copied; and the worker path gives the very records the in-process one does.

mod plugin_support;

use kpid::plugin_host::{Isolation, PluginHost, WorkerSettings};
use kpid_parsers::{BatchInfo, ParseError, Parser, Record};
use plugin_support::*;

fn worker() -> Isolation {
    Isolation::Worker(WorkerSettings {
        exe: env!("CARGO_BIN_EXE_kpid").into(),
        ..WorkerSettings::default()
    })
}

fn evil_host(isolation: Isolation) -> (tempfile::TempDir, PluginHost) {
    let dir = plugin_dir();
    cc_plugin("evil.c", &dir.path().join("evil.so"), &[]);
    let host = PluginHost::load_dir(dir.path());
    host.set_isolation(isolation);
    (dir, host)
}

/// Parses `data` as one batch; returns each line's outcome.
fn batch(p: &mut dyn Parser, data: &[u8]) -> Vec<Result<usize, ParseError>> {
    let lines: Vec<&[u8]> = kpid::engine::stage::lines(data).collect();
    let info = BatchInfo {
        source: "test",
        data,
        offset: Some(0),
    };
    p.prepare(&info, &lines);
    let mut rec: Record<'static> = Record::new();
    let mut out = Vec::new();
    for line in lines {
        let mut r = rec.recycle();
        out.push(p.parse(line, &mut r).map(|()| r.fields.len()));
        rec = r.recycle();
    }
    out
}

fn refusals(isolation: Isolation) {
    let (_dir, host) = evil_host(isolation);
    let mut p = host.make("evil", "").unwrap().unwrap();
    let got = batch(p.as_mut(), b"a=1\nhugekey\nhugeval\nmany\noob\nb=2\n");
    assert_eq!(got[0], Ok(2));
    assert_eq!(got[5], Ok(2));
    let why = |i: usize| match &got[i] {
        Err(ParseError::Invalid(m)) => m.clone(),
        other => panic!("line {i}: {other:?}"),
    };
    assert_eq!(
        why(1),
        "plugin `evil`: output refused: a key of 100000 bytes (at most 256)"
    );
    assert_eq!(
        why(2),
        "plugin `evil`: output refused: a value of 8388608 bytes (at most 4096 outside the line)"
    );
    assert_eq!(
        why(3),
        "plugin `evil`: output refused: more than 128 fields"
    );
    assert_eq!(
        why(4),
        "plugin `evil`: output refused: a range of 64 bytes at line offset 3 that runs past the line (3 bytes)"
    );
    let info = &host.list()[0];
    assert_eq!(
        (info.lines, info.errors, info.refused_output),
        (6, 4, 4),
        "{info:?}"
    );
}

#[test]
fn out_of_bounds_output_is_refused_in_process() {
    refusals(Isolation::InProcess);
}

#[test]
fn out_of_bounds_output_is_refused_in_a_worker() {
    refusals(worker());
}

#[test]
fn a_worker_gives_the_records_the_in_process_parser_gives() {
    let dir = plugin_dir();
    install(&workspace_plugin("nginx"), dir.path(), "nginx.so");
    let host = PluginHost::load_dir(dir.path());
    let mut inproc = host.make("nginx", "request_time=ms").unwrap().unwrap();
    host.set_isolation(worker());
    let mut contained = host.make("nginx", "request_time=ms").unwrap().unwrap();
    let data = concat!(
        "10.1.2.3 - bob [10/Oct/2000:13:55:36 +0000] \"GET /a?q=1 HTTP/1.1\" 200 512 \"http://r\" \"curl/8\" 12.5\n",
        "garbage\n",
        "10.1.2.4 - - [10/Oct/2000:13:55:37 +0000] \"POST /b HTTP/1.1\" 503 - \"-\" \"-\"\n",
    )
    .as_bytes();
    let lines: Vec<&[u8]> = kpid::engine::stage::lines(data).collect();
    let info = BatchInfo {
        source: "web",
        data,
        offset: None,
    };
    contained.prepare(&info, &lines);
    for line in &lines {
        let (mut a, mut b) = (Record::new(), Record::new());
        let ra = inproc.parse(line, &mut a);
        let rb = contained.parse(line, &mut b);
        assert_eq!(ra, rb);
        assert_eq!(format!("{a:?}"), format!("{b:?}"));
    }
    // A line outside any prepared batch is a batch of one.
    let mut r = Record::new();
    contained.parse(lines[0], &mut r).unwrap();
    assert_eq!(r.fields.len(), 11, "{r:?}");
    let Err(e) = host.make("nginx", "bogus=1").unwrap() else {
        panic!("bad options accepted")
    };
    let options = e.to_string();
    assert!(
        options.starts_with("plugin `nginx`: cannot create a parser: "),
        "{options}"
    );
}

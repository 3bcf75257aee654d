//! Regression tests of rules against real parsers and a real store (issue 8, item 6).

use super::{RecordKind, Rules};
use crate::config::Config;
use crate::kpi::{Limits, Store};
use kpid_parsers::{builtin, ParserOptions, Record};
use std::path::Path;
use std::sync::Arc;

/// Applies `lines` (parsed by `parser`) to the rules of `cfg`; returns the series ids.
fn ids(cfg: &str, parser: &str, pattern: Option<&str>, lines: &[&str]) -> Vec<String> {
    let cfg = Config::parse(Path::new("t.toml"), cfg).unwrap();
    let mut rules = Rules::new(&cfg, &Limits::default()).unwrap();
    let mut store = Store::new(Limits::default());
    let opts = ParserOptions {
        pattern: pattern.map(str::to_owned),
    };
    let mut p = builtin(parser, &opts).unwrap();
    let source: Arc<str> = Arc::from("app");
    for line in lines {
        let mut rec = Record::new();
        p.parse(line.as_bytes(), &mut rec).unwrap();
        rules.apply(&mut store, &source, RecordKind::Line, &rec, 1.0e9);
    }
    let mut v: Vec<String> = store.iter().map(|(d, _)| d.id.clone()).collect();
    v.sort();
    v
}

fn has(ids: &[String], want: &str) {
    assert!(ids.iter().any(|i| i == want), "no `{want}` in {ids:#?}");
}

const BY_CODE: &str = "auto_gauges = false\n[[rule]]\nname = \"hits_total\"\nkind = \"counter\"\nlabels = [\"code\"]\n";

#[test]
fn label_007_stays_007_not_7() {
    for parser in ["logfmt", "json"] {
        let line = if parser == "json" {
            r#"{"code":007}"#
        } else {
            "code=007"
        };
        let v = ids(BY_CODE, parser, None, &[line]);
        has(&v, "hits_total{code=\"007\"}");
    }
}

#[test]
fn label_1_10_stays_1_10_not_1_1() {
    let v = ids(BY_CODE, "logfmt", None, &["code=1.10", "code=1.1"]);
    has(&v, "hits_total{code=\"1.10\"}");
    has(&v, "hits_total{code=\"1.1\"}");
}

#[test]
fn label_10ms_stays_10ms_not_0_01s() {
    let v = ids(
        BY_CODE,
        "regex",
        Some(r"^took (?P<code>\S+)$"),
        &["took 10ms"],
    );
    has(&v, "hits_total{code=\"10ms\"}");
}

#[test]
fn two_20_digit_ids_are_two_series() {
    let cfg = "auto_gauges = false\n[[rule]]\nname = \"jobs_total\"\nkind = \"counter\"\nlabels = [\"id\"]\n";
    let v = ids(
        cfg,
        "json",
        None,
        &[
            r#"{"id":12345678901234567890}"#,
            r#"{"id":12345678901234567891}"#,
        ],
    );
    has(&v, "jobs_total{id=\"12345678901234567890\"}");
    has(&v, "jobs_total{id=\"12345678901234567891\"}");
}

#[test]
fn slot_named_labels_module_target_time_ts_level_msg_are_not_empty() {
    let cfg = "auto_gauges = false\n[[rule]]\nname = \"events_total\"\nkind = \"counter\"\nlabels = [\"module\", \"ts\", \"lvl\", \"msg\"]\nfilter = \"module == \\\"db\\\"\"\n";
    let v = ids(
        cfg,
        "json",
        None,
        &[
            r#"{"ts":"2026-11-23T10:00:00Z","lvl":"warn","msg":"slow","module":"db"}"#,
            r#"{"ts":"2026-11-23T10:00:01Z","lvl":"warn","msg":"slow","module":"web"}"#,
        ],
    );
    has(
        &v,
        "events_total{lvl=\"warn\",module=\"db\",msg=\"slow\",ts=\"2026-11-23T10:00:00Z\"}",
    );
    assert_eq!(v.len(), 2, "{v:#?}"); // + log_lines_total; the `web` line is filtered out
    let cfg = "auto_gauges = false\n[[rule]]\nname = \"by_target_total\"\nkind = \"counter\"\nlabels = [\"target\", \"time\", \"level\", \"message\"]\n";
    let v = ids(
        cfg,
        "regex",
        Some(r"^(?P<time>\S+) (?P<level>\w+) (?P<target>\S+): (?P<message>.*)$"),
        &["2026-11-23T10:00:00.5Z ERROR app::io: disk full"],
    );
    has(
        &v,
        "by_target_total{level=\"error\",message=\"disk full\",target=\"app::io\",time=\"2026-11-23T10:00:00.5Z\"}",
    );
}

#[test]
fn rule_field_named_ts_reads_the_time_slot() {
    let cfg =
        "auto_gauges = false\n[[rule]]\nname = \"last_ts\"\nkind = \"gauge\"\nfield = \"ts\"\n";
    let v = ids(cfg, "logfmt", None, &["ts=1795428000 x=1"]);
    has(&v, "last_ts");
}

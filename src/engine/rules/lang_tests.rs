//! The rule language on records applied to a store: `match` captures, computed values,
//! labels, gauges that add, declared series, ratios.

use super::*;
use crate::config::Config;
use crate::kpi::Limits;
use std::path::Path;

/// Applies `lines` (logfmt, source `s`, file `/var/log/s.log`) through the rules of `toml`
/// at times 100, 101...; returns the store.
fn run(toml: &str, lines: &[&str]) -> Store {
    let cfg = Config::parse(Path::new("t.toml"), toml).unwrap();
    let mut rules = Rules::new(&cfg, &Limits::default()).unwrap();
    let mut store = Store::new(Limits::default());
    rules.declare(&mut store, 99.0);
    let mut p = kpid_parsers::builtin("logfmt", &Default::default()).unwrap();
    let src: Arc<str> = Arc::from("s");
    for (i, l) in lines.iter().enumerate() {
        let mut r = Record::new();
        p.parse(l.as_bytes(), &mut r).unwrap();
        let at = (l.as_bytes(), &b"/var/log/s.log"[..]);
        rules.apply_line(&mut store, &src, RecordKind::Line, &r, at, 100.0 + i as f64);
    }
    store
}

fn total(store: &Store, id: &str) -> f64 {
    store.get(id).unwrap_or_else(|| panic!("no {id}")).1.total
}

fn last(store: &Store, id: &str) -> f64 {
    store.get(id).unwrap_or_else(|| panic!("no {id}")).1.last
}

const HEAD: &str = "auto_gauges = false\n";

#[test]
fn captures_values_and_labels() {
    let s = run(
        &format!(
            r#"{HEAD}
[[rule]]
name = "sent"
kind = "counter"
match = 'sent (?P<out>\d+)/(?P<body>\d+) to (?P<Peer>\S+)'
value = "out - body"
filter = '_file =~ "s\\.log$" and not peer == "x"'
label.peer = {{ field = "Peer", case = "lower", map = {{ LB = "balancer" }} }}
label.part = {{ value = "header" }}
"#
        ),
        &[
            "msg=x peer=x sent 120/100 to LB",
            "sent 50/20 to DB",
            "sent 5/1 to LB",
            "nothing here",
        ],
    );
    // The capture `Peer` is not the field `peer`: the filter reads the record's `peer`.
    assert_eq!(total(&s, "sent_total{part=\"header\",peer=\"db\"}"), 30.0);
    assert_eq!(
        total(&s, "sent_total{part=\"header\",peer=\"balancer\"}"),
        4.0
    );
}

#[test]
fn gauges_add_and_declared_series_read_zero() {
    let s = run(
        &format!(
            r#"{HEAD}
[[rule]]
name = "size"
kind = "gauge"
add = true
field = "n"

[[rule]]
name = "panics"
kind = "counter"
match = "panic:"
declare = true

[[rule]]
name = "level_now"
kind = "gauge"
field = "n"
declare = true
source = "s"
labels = ["source"]
"#
        ),
        &["n=3", "n=4", "m=1", "n=-2"],
    );
    assert_eq!(last(&s, "size"), 5.0);
    assert_eq!(total(&s, "panics_total"), 0.0);
    assert_eq!(last(&s, "level_now{source=\"s\"}"), -2.0);
}

#[test]
fn ratios_count_matches_over_what_they_see() {
    let s = run(
        &format!(
            r#"{HEAD}
[[rule]]
name = "hit_ratio"
kind = "ratio"
filter = "hit == true"
over = "cache == lru"
labels = ["cache"]
"#
        ),
        &[
            "cache=lru hit=true",
            "cache=lru hit=false",
            "cache=lfu hit=true",
            "cache=lru hit=true",
            "cache=lru",
        ],
    );
    assert_eq!(last(&s, "hit_ratio{cache=\"lru\"}"), 0.5);
    assert!(s.get("hit_ratio{cache=\"lfu\"}").is_none());
}

/// A ratio's window forgets what is older than it.
#[test]
fn a_ratio_is_over_its_window() {
    let cfg = Config::parse(
        Path::new("t.toml"),
        "[[rule]]\nname = \"r\"\nkind = \"ratio\"\nfilter = \"ok == 1\"\nwindow = \"2m\"\n",
    )
    .unwrap();
    let mut rules = Rules::new(&cfg, &Limits::default()).unwrap();
    let mut store = Store::new(Limits::default());
    let src: Arc<str> = Arc::from("s");
    let mut p = kpid_parsers::builtin("logfmt", &Default::default()).unwrap();
    for (t, l) in [
        (1000.0, "ok=0"),
        (1000.0, "ok=0"),
        (1100.0, "ok=1"),
        (1200.0, "ok=1"),
    ] {
        let mut r = Record::new();
        p.parse(l.as_bytes(), &mut r).unwrap();
        rules.apply(&mut store, &src, RecordKind::Line, &r, t);
    }
    // At 1200 the two failures of 1000 are past the 2-minute window.
    assert_eq!(store.get("r").unwrap().1.last, 1.0);
}

#[test]
fn dry_runs_show_what_match_rules_give() {
    let cfg = Config::parse(
        Path::new("t.toml"),
        "[[rule]]\nname = \"x\"\nkind = \"counter\"\nmatch = 'took (?P<ms>\\d+)'\nfield = \"ms\"\nlabel.k = { value = \"v\" }\n",
    )
    .unwrap();
    let mut rules = Rules::new(&cfg, &Limits::default()).unwrap();
    let line = b"GET / took 12 ms";
    let mut p = kpid_parsers::builtin("plain", &Default::default()).unwrap();
    let mut r = Record::new();
    p.parse(line, &mut r).unwrap();
    let got = rules.dry_run_line("s", &r, line);
    assert!(
        got.iter()
            .any(|s| s.id == "x_total{k=\"v\"}" && s.obs == Obs::Add(12.0)),
        "{got:?}"
    );
}

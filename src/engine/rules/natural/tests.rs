//! The natural KPIs' budgets and inference over several lines, through `Rules::dry_run`.

use crate::config::Config;
use crate::engine::rules::Rules;
use crate::kpi::{Limits, Obs};
use kpid_parsers::{LogfmtParser, Parser, Record};
use std::path::Path;

/// The samples of each line (parsed as logfmt), as `id verb value`.
fn run(lines: &[String]) -> Vec<Vec<String>> {
    let cfg = Config::parse(Path::new("t.toml"), "").unwrap();
    let mut rules = Rules::new(&cfg, &Limits::default()).unwrap();
    let mut p = LogfmtParser::new();
    lines
        .iter()
        .map(|l| {
            let mut r = Record::new();
            p.parse(l.as_bytes(), &mut r).unwrap();
            rules
                .dry_run("s", &r)
                .into_iter()
                .skip(1) // log_lines_total
                .map(|s| match s.obs {
                    Obs::Add(v) => format!("{} add {v}", s.id),
                    Obs::Set(v) => format!("{} set {v}", s.id),
                    Obs::Observe(v) => format!("{} observe {v}", s.id),
                })
                .collect()
        })
        .collect()
}

#[test]
fn label_fields_past_the_budget_are_left_out_and_values_fold() {
    let lines: Vec<String> = (0..25)
        .map(|i| format!("level=info model=m{i} stage=s queue=q region=r depth=1"))
        .collect();
    let out = run(&lines);
    assert!(
        out[0]
            .contains(&"depth{model=\"m0\",queue=\"q\",source=\"s\",stage=\"s\"} set 1".to_owned()),
        "{:?}",
        out[0]
    );
    assert!(
        out[0].contains(
            &"auto_fields_left_out_total{reason=\"label_budget\",source=\"s\"} add 1".to_owned()
        ),
        "{:?}",
        out[0]
    );
    assert!(out[19].iter().any(|s| s.contains("model=\"m19\"")));
    let last = &out[24];
    assert!(
        last.contains(
            &"depth{model=\"other\",queue=\"q\",source=\"s\",stage=\"s\"} set 1".to_owned()
        ),
        "{last:?}"
    );
    assert!(
        last.contains(&"auto_label_values_folded_total{source=\"s\"} add 1".to_owned()),
        "{last:?}"
    );
}

#[test]
fn sequences_stop_counters_add_increases_flags_feed_nothing() {
    let lines: Vec<String> = (1..=12)
        .map(|i| format!("level=info n={i} req_total={} ready", [10, 15, 12][i % 3]))
        .collect();
    let out = run(&lines);
    let n: Vec<bool> = out
        .iter()
        .map(|l| l.iter().any(|s| s.starts_with("n{")))
        .collect();
    // Charted until it has counted up by one 8 times in a row, then left out.
    assert_eq!(
        n,
        [true, true, true, true, true, true, true, true, false, false, false, false]
    );
    assert!(
        out[8].contains(
            &"auto_fields_left_out_total{reason=\"sequence\",source=\"s\"} add 1".to_owned()
        ),
        "{:?}",
        out[8]
    );
    let adds: Vec<&String> = out
        .iter()
        .take(4)
        .map(|l| l.iter().find(|s| s.starts_with("req_total")).unwrap())
        .collect();
    // 15 (first seen: nothing known before it), 12 (a reset: 12), 10 (a reset), 15 (+5).
    assert_eq!(
        adds,
        [
            "req_total{source=\"s\"} add 0",
            "req_total{source=\"s\"} add 12",
            "req_total{source=\"s\"} add 10",
            "req_total{source=\"s\"} add 5",
        ]
    );
    assert!(!out.iter().flatten().any(|s| s.contains("ready")));
}

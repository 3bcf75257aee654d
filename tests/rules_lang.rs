//! The rule language against the built daemon (docs/rules.md): records that span lines
//! (`start`) in a followed file, applied whole after the record timeout and never counted
//! twice across a `kill -9`; series declared up front; ratio rules over a window, of records
//! or of one KPI over another; sessions (start and end rules), bounded and counted; config
//! errors that name the file, the line and the field.

mod common;

use common::{append, try_wait, wait_for, Kpid};
use serde_json::Value;
use std::fs;
use std::path::Path;

const SLOW: &str = r#"auto_gauges = false

[tail]
checkpoint_interval = "100ms"
record_timeout = "TIMEOUT"

[[source]]
name = "slow"
path = "slow.log"
parser = "regex"
start = '^# User@Host: '
pattern = '(?ms)^# User@Host: (?P<user>\w+)\[\w+\] @ (?P<host>\S+).*?^# Query_time: (?P<query_time>[\d.]+)'

[[rule]]
name = "queries"
kind = "counter"
match = '(?m)^(?P<verb>SELECT|UPDATE|INSERT|DELETE) '
labels = ["host"]
label.type = { field = "verb", case = "lower" }

[[rule]]
name = "query_time"
kind = "counter"
field = "query_time"
"#;

/// Slow-query log entry `i`, as MySQL writes one: four lines, the query on the last.
fn entry(i: u64) -> String {
    format!(
        "# User@Host: app[app] @ db{} []\n# Query_time: {i}.5  Lock_time: 0.000100 Rows_sent: 1  Rows_examined: {}\nSET timestamp={};\nSELECT * FROM orders WHERE id = {i};\n",
        i % 2,
        i * 10,
        1_764_000_000 + i
    )
}

fn total(k: &Kpid, id: &str) -> f64 {
    k.latest(id)
        .and_then(|v| v["total"].as_f64())
        .unwrap_or(0.0)
}

fn selects(k: &Kpid) -> f64 {
    total(k, "queries_total{host=\"db0\",type=\"select\"}")
        + total(k, "queries_total{host=\"db1\",type=\"select\"}")
}

fn setup(timeout: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    fs::write(
        dir.path().join("kpid.toml"),
        SLOW.replace("TIMEOUT", timeout),
    )
    .unwrap();
    fs::write(dir.path().join("slow.log"), "").unwrap();
    dir
}

const ARGS: [&str; 6] = [
    "--config",
    "kpid.toml",
    "--state-dir",
    "state",
    "--no-socket",
    "--from-start",
];

/// The last entry of a file is applied once its file has been quiet for the record timeout,
/// with the fields of all its lines.
#[test]
fn a_record_is_applied_whole_after_the_timeout() {
    let dir = setup("300ms");
    let k = Kpid::start(dir.path(), &ARGS);
    let log = dir.path().join("slow.log");
    append(&log, &(1..=3).map(entry).collect::<String>());
    wait_for(20, "three queries", || (selects(&k) == 3.0).then_some(()));
    assert_eq!(total(&k, "query_time_total"), 1.5 + 2.5 + 3.5);
    assert_eq!(
        total(&k, "queries_total{host=\"db1\",type=\"select\"}"),
        2.0
    );
    assert_eq!(
        total(&k, "log_joined_lines_total{source=\"slow\"}"),
        9.0,
        "three lines joined to each entry's first"
    );
    assert_eq!(
        total(&k, "log_lines_total{level=\"none\",source=\"slow\"}"),
        3.0
    );
}

/// Killed while an entry is gathered (its query line not written yet): its file's checkpoint
/// stayed at its first line, so after the restart the entry is read again, whole, and every
/// entry counts once.
#[test]
fn a_gathered_record_survives_kill_9_whole() {
    let dir = setup("1h");
    let log = dir.path().join("slow.log");
    let mut k = Kpid::start(dir.path(), &ARGS);
    let third = entry(3);
    let (head, tail) = third.split_at(third.find("SET").unwrap());
    append(&log, &format!("{}{}{head}", entry(1), entry(2)));
    // Entries 1 and 2 are complete (the next one started); 3 is gathered.
    wait_for(20, "two queries", || (selects(&k) == 2.0).then_some(()));
    // Let a checkpoint pass: it must stay at entry 3's first line.
    std::thread::sleep(std::time::Duration::from_millis(500));
    assert_eq!(total(&k, "query_time_total"), 4.0);
    k.kill9();
    append(&log, &format!("{tail}{}", entry(4)));
    let k = Kpid::start(dir.path(), &ARGS);
    wait_for(20, "entry 3 after the restart", || {
        (selects(&k) >= 1.0).then_some(())
    });
    // Counters resume from their checkpointed totals: 1 and 2 once, 3 whole, 4 gathered.
    let whole = try_wait(20, || selects(&k) == 3.0);
    assert!(whole, "selects: {}", selects(&k));
    assert_eq!(total(&k, "query_time_total"), 1.5 + 2.5 + 3.5);
    assert_eq!(total(&k, "log_parse_errors_total{source=\"slow\"}"), 0.0);
}

/// The start of the one-shot configs: `a.log` read as logfmt, only the rules' KPIs.
const LOGFMT_A: &str = r#"auto_gauges = false
[[source]]
name = "a"
path = "a.log"
parser = "logfmt"
"#;

fn metrics(dir: &Path, config: &str, log: &str) -> String {
    fs::write(dir.join("kpid.toml"), config).unwrap();
    fs::write(dir.join("a.log"), log).unwrap();
    let text = common::one_shot(dir, &["--config", "kpid.toml"]);
    common::promtool_check(&text);
    text
}

fn value(text: &str, id: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(id)?.strip_prefix(' ')?.parse().ok())
}

/// A declared counter is exported at 0 before anything matched it; a ratio rule gives the
/// fraction of the records it sees that match, over its window.
#[test]
fn declared_series_and_ratios() {
    let dir = tempfile::tempdir().unwrap();
    let rules = r#"
[[rule]]
name = "panics"
kind = "counter"
match = 'panic: '
declare = true

[[rule]]
name = "error_ratio"
kind = "ratio"
filter = "status >= 500 or (status == 429 and not path =~ \"^/health\")"
over = "path != \"/metrics\""
labels = ["method"]
"#;
    let config = format!("{LOGFMT_A}{rules}");
    let statuses = [200, 503, 429, 200, 500, 429, 200, 200];
    let paths = ["/a", "/b", "/c", "/health", "/d", "/metrics", "/e", "/f"];
    let log: String = statuses
        .iter()
        .zip(paths)
        .map(|(s, p)| format!("method=GET path={p} status={s}\n"))
        .collect();
    let text = metrics(dir.path(), &config, &log);
    assert_eq!(value(&text, "panics_total"), Some(0.0), "{text}");
    // Seen: 7 (not /metrics); matching: 503, 429 on /c, 500.
    let r = value(&text, "error_ratio{method=\"GET\"}").unwrap();
    assert!((r - 3.0 / 7.0).abs() < 1e-9, "{r}: {text}");
}

/// Errors name the file, the line and the field, for each new key.
#[test]
fn config_errors_name_line_and_field() {
    let dir = tempfile::tempdir().unwrap();
    let head = "[[source]]\nname = \"a\"\npath = \"a.log\"\n";
    for (rule, line, want) in [
        ("filter = 'a == 1 or'", 8, "field `filter`: invalid filter"),
        ("value = 'a +'", 8, "field `value`: invalid expression"),
        ("match = '(unclosed'", 8, "field `match`: invalid pattern"),
        ("labels = [\"user\"]\ndeclare = true", 6, "field `declare`"),
        (
            "label.x = { value = \"a\", case = \"lower\" }",
            8,
            "field `label.x`",
        ),
        ("label.x = { fields = \"a\" }", 8, "unknown field `fields`"),
        ("add = true", 6, "field `add`"),
        ("window = \"5m\"", 6, "field `window`: only a ratio rule"),
    ] {
        let config = format!("{head}\n[[rule]]\nname = \"x\"\nkind = \"counter\"\n{rule}\n");
        let err = refused(dir.path(), &config);
        assert!(
            err.contains("bad.toml") && err.contains(&format!("line {line}")) && err.contains(want),
            "{rule}: {err}"
        );
    }
    let config = "[[source]]\nname = \"a\"\npath = \"a.log\"\nstart = '(x'\n";
    let err = refused(dir.path(), config);
    assert!(
        err.contains("line 4") && err.contains("field `start`"),
        "{err}"
    );
}

/// `head` then `rule` must be refused with an error naming the file and saying `want`.
fn refused_with(dir: &Path, head: &str, rule: &str, want: &str) {
    let err = refused(dir, &format!("{head}{rule}\n"));
    assert!(
        err.contains("bad.toml") && err.contains(want),
        "{rule}: {err}"
    );
}

/// Runs `kpid --one-shot` on `config` (as `bad.toml` in `dir`), which must refuse it; its
/// error.
fn refused(dir: &Path, config: &str) -> String {
    fs::write(dir.join("bad.toml"), config).unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_kpid"))
        .current_dir(dir)
        .args(["--one-shot", "--config", "bad.toml"])
        .output()
        .unwrap();
    assert!(!out.status.success(), "{config}");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// A ratio of one KPI over another, over its window, by value: the numerator's and the
/// denominator's counts within the last `window` of event time (older lines left out), per
/// label set of the ratio (the counters' other labels summed over); a denominator that
/// never counted gives no value at all (no NaN, no infinity).
#[test]
fn ratio_of_one_kpi_over_another() {
    let dir = tempfile::tempdir().unwrap();
    let rules = r#"
[[rule]]
name = "requests"
kind = "counter"
labels = ["method"]

[[rule]]
name = "errors"
kind = "counter"
filter = "status >= 500"
labels = ["method", "status"]

[[rule]]
name = "error_rate"
kind = "ratio"
numerator = "errors"
denominator = "requests_total"
labels = ["method"]
window = "2m"

[[rule]]
name = "cache_hits"
kind = "counter"
filter = 'hit == "true"'

[[rule]]
name = "lookups"
kind = "counter"
filter = 'hit =~ "."'

[[rule]]
name = "hit_rate"
kind = "ratio"
numerator = "cache_hits"
denominator = "lookups"
window = "10m"

[[rule]]
name = "uploads"
kind = "counter"
filter = 'method == "PUT"'

[[rule]]
name = "errors_per_upload"
kind = "ratio"
numerator = "errors"
denominator = "uploads"
"#;
    let config = format!("{LOGFMT_A}{rules}");
    // (second of the day after 10:00, method, status, hit)
    let mut lines: Vec<(u32, &str, u32, &str)> = Vec::new();
    // 10:00:00-10:00:09: ten GETs, five failing: out of the window by the end.
    for i in 0..10 {
        lines.push((i, "GET", if i % 2 == 0 { 500 } else { 200 }, "true"));
    }
    // 10:05:00-10:05:05: four GETs, one 503; two POSTs, a 500 and a 502.
    for (i, (m, s)) in [
        ("GET", 200),
        ("GET", 503),
        ("POST", 500),
        ("GET", 200),
        ("POST", 502),
        ("GET", 200),
    ]
    .into_iter()
    .enumerate()
    {
        let hit = if i < 2 { "false" } else { "true" };
        lines.push((300 + i as u32, m, s, hit));
    }
    let log: String = lines
        .iter()
        .map(|(t, m, s, h)| {
            format!(
                "time=2026-11-30T10:{:02}:{:02}Z method={m} status={s} hit={h}\n",
                t / 60,
                t % 60
            )
        })
        .collect();
    let text = metrics(dir.path(), &config, &log);
    // What the window holds, from the lines themselves: the last two minutes.
    let end = lines.iter().map(|l| l.0).max().unwrap();
    let within = |l: &&(u32, &str, u32, &str)| l.0 + 120 > end;
    let rate = |m: &str| {
        let seen: Vec<_> = lines.iter().filter(within).filter(|l| l.1 == m).collect();
        seen.iter().filter(|l| l.2 >= 500).count() as f64 / seen.len() as f64
    };
    for m in ["GET", "POST"] {
        let got = value(&text, &format!("error_rate{{method=\"{m}\"}}")).unwrap();
        assert!(
            (got - rate(m)).abs() < 1e-9,
            "{m}: {got} != {}: {text}",
            rate(m)
        );
    }
    assert_eq!(
        rate("GET"),
        0.25,
        "the window leaves the first ten lines out"
    );
    // All of the last ten minutes: 14 hits of 16 lookups.
    let hits = lines.iter().filter(|l| l.3 == "true").count() as f64;
    let got = value(&text, "hit_rate").unwrap();
    assert!(
        (got - hits / lines.len() as f64).abs() < 1e-9,
        "{got}: {text}"
    );
    // Errors counted, uploads never: no value, the ratio is not exported.
    assert!(value(&text, "errors_total{method=\"GET\",status=\"503\"}").is_some());
    assert!(!text.contains("errors_per_upload"), "{text}");
    assert!(!text.contains("NaN") && !text.contains("Inf"), "{text}");
}

/// A ratio of KPIs names counter rules of the config, with the ratio's labels on both; an
/// end rule names a start rule.
#[test]
fn rules_that_name_rules_config_errors() {
    let dir = tempfile::tempdir().unwrap();
    let head = "[[source]]\nname = \"a\"\npath = \"a.log\"\n\n[[rule]]\nname = \"req\"\nkind = \"counter\"\nlabels = [\"method\"]\n\n[[rule]]\nname = \"r\"\nkind = \"ratio\"\n";
    for (rule, want) in [
        (
            "numerator = \"nope\"\ndenominator = \"req\"",
            "field `numerator`: no counter rule is named `nope`",
        ),
        (
            "numerator = \"req\"",
            "needs both `numerator` and `denominator`",
        ),
        (
            "numerator = \"req\"\ndenominator = \"req\"\nlabels = [\"path\"]",
            "counter `req` has no label `path`",
        ),
        (
            "numerator = \"req\"\ndenominator = \"req\"\nfilter = \"a == 1\"",
            "field `filter`: a ratio of KPIs reads no record",
        ),
    ] {
        refused_with(dir.path(), head, rule, want);
    }
    // Sessions: an end names a start rule; a start has a key and makes no series.
    let head = "[[source]]\nname = \"a\"\npath = \"a.log\"\n\n[[rule]]\nname = \"s\"\n";
    for (rule, want) in [
        (
            "kind = \"start\"",
            "field `key`: a start rule needs the field",
        ),
        (
            "kind = \"start\"\nkey = \"pid\"\nlabels = [\"x\"]",
            "a start rule makes no series",
        ),
        (
            "kind = \"counter\"\nsince = \"nope\"",
            "field `since`: no start rule",
        ),
        (
            "kind = \"counter\"\nmax_open = 3",
            "field `max_open`: only a start rule",
        ),
        (
            "kind = \"counter\"\nkey = \"pid\"",
            "field `key`: only a start rule or an end rule",
        ),
    ] {
        refused_with(dir.path(), head, rule, want);
    }
}

/// Sessions in a followed file: a start rule keyed by `conn` with room for two open keys;
/// the oldest are evicted past it, an end whose start was evicted (or that has no key) is
/// not observed; all of it counted in `/api/health`, and the durations that ended observed
/// by value in `/api`, next to a ratio of two counters.
#[test]
fn sessions_are_bounded_and_counted_in_health() {
    let (dir, log) = common::follow_a(
        r#"
[[rule]]
name = "conn"
kind = "start"
filter = 'event == "open"'
key = "conn"
max_open = 2

[[rule]]
name = "conn_duration"
kind = "distribution"
unit = "s"
filter = 'event == "close"'
since = "conn"

[[rule]]
name = "closes"
kind = "counter"
filter = 'event == "close"'

[[rule]]
name = "opens"
kind = "counter"
filter = 'event == "open"'

[[rule]]
name = "closes_per_open"
kind = "ratio"
numerator = "closes"
denominator = "opens"
window = "1h"
"#,
    );
    let k = Kpid::start(
        dir.path(),
        &["--config", "k.toml", "--no-state", "--no-socket"],
    );
    let at = |s: u32| format!("time=2026-11-30T10:00:{s:02}Z");
    let lines = [
        format!("{} event=open conn=a", at(0)),
        format!("{} event=open conn=b", at(1)),
        // Two open: c evicts a, d evicts b.
        format!("{} event=open conn=c", at(2)),
        format!("{} event=open conn=d", at(3)),
        format!("{} event=close conn=c", at(5)),
        // a's start was evicted; the last close has no key.
        format!("{} event=close conn=a", at(10)),
        format!("{} event=close", at(11)),
    ];
    append(&log, &(lines.join("\n") + "\n"));
    let health = wait_for(20, "the sessions in /api/health", || {
        let h = k.json("/api/health");
        (h["sessions"]["unmatched"] == 2).then_some(h)
    });
    let s = &health["sessions"];
    assert_eq!(
        (
            &s["started"],
            &s["evicted"],
            &s["ended"],
            &s["open"],
            &s["expired"]
        ),
        (
            &Value::from(4),
            &Value::from(2),
            &Value::from(1),
            &Value::from(1),
            &Value::from(0)
        ),
        "{health:#}"
    );
    let d = k.latest("conn_duration_seconds").expect("the duration KPI");
    assert_eq!(
        (d["count"].as_f64(), d["sum"].as_f64()),
        (Some(1.0), Some(3.0)),
        "{d}"
    );
    let r = k.latest("closes_per_open").expect("the ratio KPI");
    assert_eq!(r["value"].as_f64(), Some(3.0 / 4.0), "{r}");
}

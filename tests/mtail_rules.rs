//! mtail's example programs and their kpid translations (`docs/mtail/`), on the same logs:
//! each program runs in the real mtail (`mtail --one_shot`, Debian package, installed by
//! `scripts/deps.sh`) and its translation in `kpid --one-shot`, and every value mtail
//! exports must come out of kpid, with nothing more (kpid's own `log_*` KPIs aside).
//! Programs and logs are mtail's own (`tests/data/mtail/`, Apache License 2.0).
//!
//! kpid exposes names in Prometheus' convention (counters end in `_total`, units last:
//! `bytes_in` → `in_bytes_total`); each case lists those renames. Durations carried from
//! one line to another (sessions: rsyncd's connection time, vsftpd's session time) are also
//! observed as distributions, whose sum must be mtail's total and whose count the number of
//! sessions that ended.

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

const DATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/mtail");
const DOCS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/mtail");

/// One program and its translation.
struct Case {
    /// `progs/NAME.mtail` and `docs/mtail/NAME.toml`.
    name: &'static str,
    /// Each log: the `path` the config names, and the file read in its place (under the
    /// test's directory; the log is `logs/` + its file name).
    logs: &'static [(&'static str, &'static str)],
    /// More files both read, not named in the config (a glob's other files): where they go
    /// and the log they are a copy of.
    beside: &'static [(&'static str, &'static str)],
    /// kpid's names for mtail's, where they differ by more than a `_total`.
    renames: &'static [(&'static str, &'static str)],
    /// mtail metrics left out of this comparison (see the case), and kpid's of that stem.
    untranslated: &'static [&'static str],
    /// Durations: mtail's total, the kpid distribution of the same durations (its `_sum`
    /// must be that total), and the text of the lines that end a session (its `_count`
    /// must be how many there are in the logs: each one's session started in the log).
    durations: &'static [(&'static str, &'static str, &'static str)],
    /// A log read from its first line holding this text, in both (`(file, text)`).
    from: Option<(&'static str, &'static str)>,
    /// Fewest series mtail must export for the comparison to mean something.
    least: usize,
}

/// A case's fields that most leave empty (`..NONE`).
const NONE: Case = Case {
    name: "",
    logs: &[],
    beside: &[],
    renames: &[],
    untranslated: &[],
    durations: &[],
    from: None,
    least: 0,
};

/// `name` → sorted labels → value, from a Prometheus exposition.
type Samples = BTreeMap<String, BTreeMap<Vec<(String, String)>, f64>>;

fn parse(text: &str) -> Samples {
    let mut out = Samples::new();
    for line in text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
    {
        let (id, v) = line.rsplit_once(' ').expect("a sample line");
        let (name, labels) = match id.split_once('{') {
            Some((n, rest)) => (n, rest.trim_end_matches('}')),
            None => (id, ""),
        };
        let mut pairs: Vec<(String, String)> = Vec::new();
        let mut rest = labels;
        while let Some((k, after)) = rest.split_once("=\"") {
            let end = after.find('"').expect("a closing quote");
            pairs.push((
                k.trim_start_matches(',').to_owned(),
                after[..end].to_owned(),
            ));
            rest = &after[end + 1..];
        }
        pairs.sort();
        out.entry(name.to_owned())
            .or_default()
            .insert(pairs, v.parse().expect("a number"));
    }
    out
}

fn mtail(dir: &Path, case: &Case, logs: &[String]) -> Samples {
    let progs = dir.join("progs");
    std::fs::create_dir_all(&progs).unwrap();
    let prog = format!("{}.mtail", case.name);
    std::fs::copy(Path::new(DATA).join("progs").join(&prog), progs.join(&prog)).unwrap();
    let mut cmd = Command::new("mtail");
    // mtail binds its HTTP port even in one-shot mode: any free one, so tests run at once.
    cmd.args([
        "--one_shot",
        "--one_shot_format=prometheus",
        "--emit_prog_label=false",
    ])
    .args(["--address", "127.0.0.1", "--port", "0"])
    .arg("--progs")
    .arg(&progs)
    .arg("--log_dir")
    .arg(dir);
    for l in logs {
        cmd.arg("--logs").arg(l);
    }
    let out = cmd
        .output()
        .expect("mtail runs (scripts/deps.sh installs Debian's mtail)");
    assert!(
        out.status.success(),
        "mtail: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    parse(&String::from_utf8_lossy(&out.stdout))
}

fn kpid(dir: &Path, case: &Case, logs: &[String]) -> Samples {
    let mut cfg =
        std::fs::read_to_string(Path::new(DOCS).join(format!("{}.toml", case.name))).unwrap();
    for ((path, _), log) in case.logs.iter().zip(logs) {
        let at = format!("path = \"{path}\"");
        assert!(cfg.contains(&at), "{} names no {at}", case.name);
        // A glob reads the log's directory.
        let new = match path.rsplit_once('/') {
            Some((_, f)) if f.contains('*') => {
                let d = Path::new(log).parent().unwrap().display().to_string();
                format!("path = \"{d}/{f}\"")
            }
            _ => format!("path = \"{log}\""),
        };
        cfg = cfg.replace(&at, &new);
    }
    let file = dir.join("kpid.toml");
    std::fs::write(&file, cfg).unwrap();
    let text = common::one_shot(dir, &["--config", file.to_str().unwrap()]);
    common::promtool_check(&text);
    parse(&text)
}

fn check(case: &Case) {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let place = |file: &str, from: &str| {
        let to = dir.join(file);
        std::fs::create_dir_all(to.parent().unwrap()).unwrap();
        let text = std::fs::read_to_string(Path::new(DATA).join("logs").join(from)).unwrap();
        let text = match case.from {
            Some((f, first)) if f == from => {
                let at = text.find(first).expect("the text the log is cut at");
                &text[text[..at].rfind('\n').map_or(0, |n| n + 1)..]
            }
            _ => &text[..],
        };
        std::fs::write(&to, text).unwrap();
        to.display().to_string()
    };
    let logs: Vec<String> = case
        .logs
        .iter()
        .map(|(_, file)| place(file, Path::new(file).file_name().unwrap().to_str().unwrap()))
        .collect();
    let mut all = logs.clone();
    all.extend(case.beside.iter().map(|(file, from)| place(file, from)));
    let mut want = mtail(dir, case, &all);
    for u in case.untranslated {
        assert!(want.remove(*u).is_some(), "mtail exports no `{u}`");
    }
    let series: usize = want.values().map(BTreeMap::len).sum();
    assert!(
        series >= case.least,
        "mtail exported {series} series: {want:#?}"
    );
    let mut mine = kpid(dir, case, &logs);
    // What is left out is left out of kpid's side too (`session_time_seconds_sum`...).
    mine.retain(|name, _| !case.untranslated.iter().any(|u| name.starts_with(u)));
    for (total, dist, end) in case.durations {
        let v = want[*total][&Vec::new()];
        let sum = mine[&format!("{dist}_sum")][&Vec::new()];
        assert!(
            (sum - v).abs() <= 1e-9 * v.abs().max(1.0),
            "{}: `{dist}_sum` is {sum} in kpid, `{total}` {v} in mtail",
            case.name
        );
        let ends: usize = logs
            .iter()
            .map(|l| std::fs::read_to_string(l).unwrap().matches(end).count())
            .sum();
        assert!(ends > 0, "{}: no line ends a session", case.name);
        let count = mine[&format!("{dist}_count")][&Vec::new()];
        assert_eq!(count, ends as f64, "{}: sessions ended", case.name);
        for suffix in ["", "_sum", "_count"] {
            mine.remove(&format!("{dist}{suffix}"));
        }
    }
    let mut got = Samples::new();
    for (name, s) in mine {
        if name.starts_with("log_") {
            continue;
        }
        let mtail_name = match case.renames.iter().find(|(_, k)| *k == name) {
            Some((m, _)) => (*m).to_owned(),
            None if want.contains_key(&name) => name,
            None => name.strip_suffix("_total").unwrap_or(&name).to_owned(),
        };
        got.insert(mtail_name, s);
    }
    // A total only a distribution gives (no counter of kpid's reads it) is compared above.
    for (total, _, _) in case.durations {
        if !got.contains_key(*total) {
            want.remove(*total);
        }
    }
    assert_eq!(
        got.keys().collect::<Vec<_>>(),
        want.keys().collect::<Vec<_>>(),
        "{}: the same metrics",
        case.name
    );
    for (name, series) in &want {
        let mine = &got[name];
        assert_eq!(
            mine.keys().collect::<Vec<_>>(),
            series.keys().collect::<Vec<_>>(),
            "{}: `{name}` has the same label sets",
            case.name
        );
        for (labels, v) in series {
            let k = mine[labels];
            assert!(
                (k - v).abs() <= 1e-9 * v.abs().max(1.0),
                "{}: {name}{labels:?} is {k} in kpid, {v} in mtail",
                case.name
            );
        }
    }
}

#[test]
fn apache_combined() {
    check(&Case {
        name: "apache_combined",
        logs: &[("/var/log/apache2/access.log", "apache-combined.log")],
        least: 3,
        ..NONE
    });
}

#[test]
fn apache_common() {
    check(&Case {
        name: "apache_common",
        logs: &[("/var/log/apache2/access.log", "apache-common.log")],
        least: 9,
        ..NONE
    });
}

/// The access log and a second virtual host's log in one directory: the rules read the
/// access log's lines only, by their file's name, as the program does.
#[test]
fn lighttpd() {
    check(&Case {
        name: "lighttpd",
        logs: &[("/var/log/lighttpd/*.log", "lighttpd/lighttpd_access.log")],
        beside: &[("lighttpd/vhost2_access.log", "lighttpd_access.log")],
        renames: &[
            ("bytes_in", "in_bytes_total"),
            ("bytes_out", "out_bytes_total"),
        ],
        least: 11,
        ..NONE
    });
}

#[test]
fn rsyncd() {
    check(&Case {
        name: "rsyncd",
        logs: &[("/var/log/rsyncd.log", "rsyncd.log")],
        durations: &[(
            "connection_time_total",
            "connection_duration_seconds",
            "bytes  received",
        )],
        least: 6,
        ..NONE
    });
}

#[test]
fn sftp() {
    check(&Case {
        name: "sftp",
        logs: &[("/var/log/auth.log", "sftp_chroot.log")],
        renames: &[
            ("bytes_read", "read_bytes_total"),
            ("bytes_written", "written_bytes_total"),
            ("user_bytes_read", "user_read_bytes_total"),
            ("user_bytes_written", "user_written_bytes_total"),
        ],
        least: 17,
        ..NONE
    });
}

/// vsftpd's two logs and renames; the session times as `vsftpd()` or `vsftpd_sessions()`
/// compare them.
const VSFTPD: Case = Case {
    name: "vsftpd",
    logs: &[
        ("/var/log/xferlog", "vsftpd_xferlog"),
        ("/var/log/vsftpd.log", "vsftpd_log"),
    ],
    renames: &[("bytes_transferred", "transferred_bytes_total")],
    durations: &[("session_time", "session_time_seconds", "\"QUIT\"")],
    least: 20,
    ..NONE
};

#[test]
fn vsftpd() {
    check(&Case {
        // Compared in `vsftpd_sessions`: this log's first QUIT ends a session whose CONNECT
        // is not in it, which mtail reads as one started at Unix time 0 (its total gains a
        // whole Unix time); kpid observes nothing for it and counts it as unmatched.
        untranslated: &["session_time"],
        durations: &[],
        ..VSFTPD
    });
}

/// vsftpd's log from its first CONNECT on: every QUIT's session started in the log, and the
/// durations between them sum to mtail's `session_time`.
#[test]
fn vsftpd_sessions() {
    check(&Case {
        from: Some(("vsftpd_log", "CONNECT: ")),
        least: 15,
        ..VSFTPD
    });
}

/// Counters without labels read 0 before their first match (`declare`), as mtail's do.
#[test]
fn ntpd() {
    check(&Case {
        name: "ntpd",
        logs: &[("/var/log/syslog", "ntp4")],
        least: 9,
        ..NONE
    });
}

/// An entry spans lines: one record from its `# User@Host:` line (`start`), read whole.
#[test]
fn mysql_slowqueries() {
    check(&Case {
        name: "mysql_slowqueries",
        logs: &[("/var/log/mysql/mysql-slow.log", "mysql_slowqueries.log")],
        least: 32,
        ..NONE
    });
}

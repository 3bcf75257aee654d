//! `kpid plugins` and `kpid parse` against the built binary, with real plugins.

mod plugin_support;

use plugin_support::*;
use std::io::Write;
use std::process::{Command, Output, Stdio};

fn kpid(args: &[&str], stdin: &[u8]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_kpid"))
        .args(args)
        .env("KPID_LOG", "error")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(stdin).unwrap();
    child.wait_with_output().unwrap()
}

fn stdout(o: &Output) -> String {
    assert!(
        o.status.success(),
        "kpid failed: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8(o.stdout.clone()).unwrap()
}

const ACCESS: &str = r#"10.0.0.7 - - [23/Nov/2026:10:00:00 +0000] "GET /api/v1/items HTTP/1.1" 503 120 "-" "curl/8.11.0" 250000
not an access log line
10.0.0.8 - bob [23/Nov/2026:10:00:01 +0000] "POST /login HTTP/1.1" 200 5 "-" "curl/8.11.0" 1500
"#;

#[test]
fn plugins_lists_loaded_and_refused_files() {
    let dir = plugin_dir();
    install(&workspace_plugin("nginx"), dir.path(), "nginx.so");
    cc_plugin("words.c", &dir.path().join("abi7.so"), &["-DABI=7"]);
    let out = stdout(&kpid(
        &["plugins", "--plugin-dir", dir.path().to_str().unwrap()],
        b"",
    ));
    let nginx = out
        .lines()
        .find(|l| l.starts_with("nginx "))
        .unwrap_or_else(|| panic!("{out}"));
    assert!(
        nginx.contains("abi 1") && nginx.ends_with("loaded"),
        "{nginx}"
    );
    assert!(
        nginx.contains(&*dir.path().join("nginx.so").to_string_lossy()),
        "{nginx}"
    );
    let bad = out
        .lines()
        .find(|l| l.starts_with("abi7.so"))
        .unwrap_or_else(|| panic!("{out}"));
    assert!(
        bad.contains("abi 7") && bad.contains("refused: ") && bad.contains("ABI version 7"),
        "{bad}"
    );

    let missing = kpid(&["plugins", "--plugin-dir", "/nonexistent/kpid"], b"");
    assert_eq!(missing.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("/nonexistent/kpid"));
}

#[test]
fn parse_prints_records_samples_and_a_summary() {
    let dir = plugin_dir();
    install(&workspace_plugin("nginx"), dir.path(), "nginx.so");
    let cfg = dir.path().join("kpid.toml");
    std::fs::write(
        &cfg,
        r#"auto_gauges = false
[[source]]
name = "web"
path = "/var/log/nginx/access.log"
parser = "nginx"
options = "request_time=us"

[[rule]]
name = "http_requests_total"
kind = "counter"
labels = ["status", "method"]

[[rule]]
name = "http_request_duration_seconds"
kind = "distribution"
field = "request_time"
"#,
    )
    .unwrap();
    let args = [
        "parse",
        "--config",
        cfg.to_str().unwrap(),
        "--plugin-dir",
        dir.path().to_str().unwrap(),
    ];
    let out = stdout(&kpid(&args, ACCESS.as_bytes()));
    let want = [
        "1: @time=1795428000 @level=error remote_addr=10.0.0.7 method=GET path=/api/v1/items protocol=HTTP/1.1 status=503 bytes=120 user_agent=curl/8.11.0 request_time=0.25s",
        "    time 2026-11-23T10:00:00.000Z",
        "    log_lines_total{level=\"error\",source=\"web\"} add 1",
        "    http_requests_total{method=\"GET\",status=\"503\"} add 1",
        "    http_request_duration_seconds observe 0.25",
        "2: error: line does not match the pattern",
        "    log_parse_errors_total{source=\"web\"} add 1",
    ];
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(&lines[..want.len()], want, "{out}");
    assert!(
        out.contains("3: @time=1795428001 @level=info remote_addr=10.0.0.8 user=bob method=POST"),
        "{out}"
    );
    assert!(
        out.contains("summary: parser nginx (source web): 3 lines, 1 errors, "),
        "{out}"
    );
    assert!(out.contains("plugin nginx 0.1.0 (/"), "{out}");

    // --parser and --options override the config; --summary prints the summary alone.
    let mut args = args.to_vec();
    args.extend([
        "--parser",
        "nginx",
        "--options",
        "request_time=s",
        "--summary",
    ]);
    let out = stdout(&kpid(&args, ACCESS.as_bytes()));
    assert!(
        out.starts_with("summary: parser nginx (source web): 3 lines, 1 errors, "),
        "{out}"
    );
}

#[test]
fn parse_with_builtins_needs_no_plugin_and_names_unknown_parsers() {
    let out = stdout(&kpid(
        &["parse", "--parser", "logfmt"],
        b"level=warn took=12ms\n",
    ));
    assert!(out.starts_with("1: @level=warn took=0.012s\n"), "{out}");
    assert!(
        out.contains("took_seconds{source=\"stdin\"} observe 0.012"),
        "{out}"
    );
    assert!(
        out.contains("summary: parser logfmt (source stdin): 1 lines, 0 errors, "),
        "{out}"
    );

    let dir = plugin_dir();
    let bad = kpid(
        &[
            "parse",
            "--parser",
            "nginx",
            "--plugin-dir",
            dir.path().to_str().unwrap(),
        ],
        b"x\n",
    );
    assert_eq!(bad.status.code(), Some(2));
    let err = String::from_utf8_lossy(&bad.stderr);
    assert!(
        err.contains("unknown parser `nginx`") && err.contains("plugins: none"),
        "{err}"
    );
}

#[test]
fn the_daemon_feeds_plugin_records_to_the_same_rules() {
    let dir = plugin_dir();
    install(&workspace_plugin("nginx"), dir.path(), "nginx.so");
    let log = dir.path().join("access.log");
    std::fs::write(&log, ACCESS).unwrap();
    let cfg = dir.path().join("kpid.toml");
    std::fs::write(
        &cfg,
        format!(
            r#"plugin_dir = "{}"
auto_gauges = false
[[source]]
name = "web"
path = "{}"
parser = "nginx"
options = "request_time=us"

[[rule]]
name = "http_request_duration_seconds"
kind = "distribution"
field = "request_time"
buckets = [0.01, 1.0]
"#,
            dir.path().display(),
            log.display()
        ),
    )
    .unwrap();
    let args = [
        "--config",
        cfg.to_str().unwrap(),
        "--one-shot",
        "--no-state",
        "--no-socket",
        "--from-start",
    ];
    let out = stdout(&kpid(&args, b""));
    for want in [
        "log_lines_total{level=\"error\",source=\"web\"} 1\n",
        "log_lines_total{level=\"info\",source=\"web\"} 1\n",
        "log_parse_errors_total{source=\"web\"} 1\n",
        "http_request_duration_seconds_bucket{le=\"0.01\"} 1\n",
        "http_request_duration_seconds_sum 0.2515\n",
    ] {
        assert!(out.contains(want), "{want} missing from:\n{out}");
    }
}

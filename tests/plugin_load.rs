//! Loading real plugins (Rust cdylibs from the workspace, a C plugin built with cc, a Rust
//! plugin built with rustc) and every refusal case, each before any library code runs where
//! the design says so.

mod plugin_support;

use kpid::plugin_host::{PluginHost, PluginInfo};
use kpid_parsers::{ParseError, Record, Value};
use plugin_support::*;
use std::borrow::Cow;
use std::path::Path;

fn info<'a>(list: &'a [PluginInfo], file: &str) -> &'a PluginInfo {
    list.iter()
        .find(|p| p.path.file_name().unwrap() == file)
        .unwrap_or_else(|| panic!("{file} not listed in {list:#?}"))
}

fn refusal(host: &PluginHost, file: &str) -> String {
    let list = host.list();
    let p = info(&list, file);
    assert!(p.status.starts_with("refused: "), "{file}: {p:?}");
    p.status.clone()
}

#[test]
fn rust_and_c_plugins_load_and_parse_through_the_parser_trait() {
    let dir = plugin_dir();
    install(&workspace_plugin("nginx"), dir.path(), "nginx.so");
    install(&workspace_plugin("runner"), dir.path(), "runner.so");
    cc_plugin("words.c", &dir.path().join("words.so"), &[]);
    let host = PluginHost::load_dir(dir.path());
    let list = host.list();
    assert_eq!(list.len(), 3, "{list:#?}");
    for (file, name) in [
        ("nginx.so", "nginx"),
        ("runner.so", "runner"),
        ("words.so", "words"),
    ] {
        let p = info(&list, file);
        assert_eq!(
            (p.name.as_str(), p.status.as_str(), p.abi),
            (name, "loaded", Some(1)),
            "{p:?}"
        );
    }
    assert_eq!(info(&list, "words.so").version, "1.0");
    assert!(
        host.make("json", "").is_none(),
        "built-in names are not plugins"
    );

    let mut nginx = host.make("nginx", "request_time=ms").unwrap().unwrap();
    assert_eq!(nginx.name(), "nginx");
    let line = br#"10.1.2.3 - - [10/Oct/2000:13:55:36 +0000] "GET /index.html?q=1 HTTP/1.1" 404 512 "-" "curl/8" 12.5"#;
    let mut rec = Record::new();
    nginx.parse(line, &mut rec).unwrap();
    assert_eq!(rec.timestamp, Some(971_186_136.0));
    assert_eq!(rec.level, Some(kpid_parsers::Level::Warn));
    assert_eq!(rec.get(b"status"), Some(&Value::Int(404)));
    assert_eq!(rec.get(b"bytes"), Some(&Value::Int(512)));
    assert_eq!(
        rec.get(b"path"),
        Some(&Value::Str(Cow::Borrowed(&b"/index.html"[..])))
    );
    assert_eq!(rec.get(b"request_time"), Some(&Value::Duration(0.0125)));
    // Values from the line and keys from the plugin's string literals are not copied.
    for f in &rec.fields {
        assert!(
            matches!(f.key, Cow::Borrowed(_)),
            "key {:?} was copied",
            f.key
        );
        if let Value::Str(s) = &f.value {
            assert!(
                matches!(s, Cow::Borrowed(_)),
                "value of {:?} was copied",
                f.key
            );
        }
    }
    let mut rec = rec.recycle();
    assert_eq!(
        nginx.parse(b"not an access log", &mut rec),
        Err(ParseError::NoMatch)
    );
    assert!(rec.fields.is_empty());

    let mut words = host.make("words", "sep=,").unwrap().unwrap();
    let mut rec = Record::new();
    words.parse(b"alpha,beta,gamma", &mut rec).unwrap();
    assert_eq!(rec.get(b"words"), Some(&Value::Int(3)));
    assert_eq!(
        rec.get(b"first"),
        Some(&Value::Str(Cow::Borrowed(&b"alpha"[..])))
    );
    assert_eq!(rec.get(b"w0"), Some(&Value::Int(5)));
    let w0 = rec.fields.iter().find(|f| f.key.as_ref() == b"w0").unwrap();
    assert!(
        matches!(w0.key, Cow::Owned(_)),
        "a key on the plugin's stack must be copied"
    );
    let mut rec = rec.recycle();
    let err = words.parse(b"bad,line", &mut rec).unwrap_err();
    assert_eq!(
        err,
        ParseError::Invalid("words: line starts with bad".into())
    );

    let mut runner = host.make("runner", "").unwrap().unwrap();
    let mut rec = Record::new();
    runner
        .parse(b"prompt eval time =  35.63 ms /  11 tokens", &mut rec)
        .unwrap();
    assert_eq!(rec.get(b"prompt_eval_tokens"), Some(&Value::Int(11)));

    let list = host.list();
    let (n, w) = (info(&list, "nginx.so"), info(&list, "words.so"));
    assert_eq!((n.lines, n.errors, w.lines, w.errors), (2, 1, 2, 1));
    assert!(n.ns_per_line.is_some_and(|ns| ns > 0.0), "{n:?}");
    let json = serde_json::to_value(&list).unwrap();
    for key in [
        "name",
        "version",
        "abi",
        "path",
        "status",
        "lines",
        "errors",
        "ns_per_line",
    ] {
        assert!(json[0].get(key).is_some(), "{key} missing from {json}");
    }
}

#[test]
fn bad_options_are_an_error_from_make() {
    let dir = plugin_dir();
    cc_plugin("words.c", &dir.path().join("words.so"), &[]);
    install(&workspace_plugin("nginx"), dir.path(), "nginx.so");
    let host = PluginHost::load_dir(dir.path());
    let err = host
        .make("words", "colour=red")
        .unwrap()
        .err()
        .unwrap()
        .to_string();
    assert_eq!(
        err,
        "plugin `words`: cannot create a parser: words: unknown option `colour=red` (known: sep=C)"
    );
    let err = host
        .make("nginx", "request_time=h")
        .unwrap()
        .err()
        .unwrap()
        .to_string();
    assert!(
        err.contains("nginx: unknown option `request_time=h`"),
        "{err}"
    );
}

/// Builds words.c with a constructor that writes `marker`; returns the marker's path.
fn marked(dir: &Path, out: &str, flags: &[&str]) -> std::path::PathBuf {
    let marker = dir.parent().unwrap().join(format!(
        "{}-{out}.ran",
        dir.file_name().unwrap().to_string_lossy()
    ));
    let define = format!("-DMARKER=\"{}\"", marker.display());
    let mut all = vec![define.as_str()];
    all.extend_from_slice(flags);
    cc_plugin("words.c", &dir.join(out), &all);
    marker
}

#[test]
fn refused_before_any_library_code_runs() {
    let dir = plugin_dir();
    let d = dir.path();
    let group_writable = marked(d, "group.so", &[]);
    chmod(&d.join("group.so"), 0o775);
    let world_writable = marked(d, "world.so", &[]);
    chmod(&d.join("world.so"), 0o757);
    let no_entry = marked(d, "noentry.so", &["-DNO_ENTRY"]);
    std::fs::write(d.join("text.so"), "#!/bin/sh\necho not a library\n").unwrap();
    chmod(&d.join("text.so"), 0o755);
    std::fs::copy("/bin/sh", d.join("exe.so")).unwrap();
    chmod(&d.join("exe.so"), 0o755);
    let good = marked(d, "good.so", &[]);

    let host = PluginHost::load_dir(d);
    assert!(refusal(&host, "group.so").contains("file is writable by group or others (mode 775)"));
    assert!(refusal(&host, "world.so").contains("writable by group or others (mode 757)"));
    assert!(refusal(&host, "noentry.so").contains("no `kpid_plugin_entry` function exported"));
    assert!(refusal(&host, "text.so").contains("not an ELF shared library (bad magic)"));
    let exe = refusal(&host, "exe.so");
    assert!(
        exe.contains("not a shared library") || exe.contains("no `kpid_plugin_entry`"),
        "{exe}"
    );
    for (marker, what) in [
        (&group_writable, "group"),
        (&world_writable, "world"),
        (&no_entry, "noentry"),
    ] {
        assert!(
            !marker.exists(),
            "the {what} library ran code although refused"
        );
    }
    // The good one loaded beside them (its constructor ran: the marker works).
    assert_eq!(info(&host.list(), "good.so").status, "loaded");
    assert!(good.exists());
}

#[test]
fn writable_directory_refuses_everything_in_it() {
    let dir = plugin_dir();
    let marker = marked(dir.path(), "words.so", &[]);
    chmod(dir.path(), 0o770);
    let host = PluginHost::load_dir(dir.path());
    let why = refusal(&host, "words.so");
    assert!(
        why.contains("directory is writable by group or others (mode 770)"),
        "{why}"
    );
    assert!(!marker.exists());
    assert!(host.make("words", "").is_none());
}

#[test]
fn files_of_another_user_are_refused() {
    if !is_root() {
        eprintln!("skipped: chown to another user needs root");
        return;
    }
    let dir = plugin_dir();
    let marker = marked(dir.path(), "theirs.so", &[]);
    std::os::unix::fs::chown(dir.path().join("theirs.so"), Some(65534), None).unwrap();
    let host = PluginHost::load_dir(dir.path());
    assert!(refusal(&host, "theirs.so").contains("file is owned by uid 65534"));
    assert!(!marker.exists());

    let other = plugin_dir();
    cc_plugin("words.c", &other.path().join("words.so"), &[]);
    std::os::unix::fs::chown(other.path(), Some(65534), None).unwrap();
    let host = PluginHost::load_dir(other.path());
    assert!(refusal(&host, "words.so").contains("directory is owned by uid 65534"));
}

#[test]
fn table_checks_refuse_wrong_abi_size_and_null_functions() {
    let dir = plugin_dir();
    cc_plugin("words.c", &dir.path().join("abi99.so"), &["-DABI=99"]);
    cc_plugin(
        "words.c",
        &dir.path().join("small.so"),
        &["-DTABLE_SIZE=16"],
    );
    cc_plugin("words.c", &dir.path().join("noparse.so"), &["-DNULL_PARSE"]);
    let host = PluginHost::load_dir(dir.path());
    let why = refusal(&host, "abi99.so");
    assert!(
        why.contains("plugin ABI version 99, kpid speaks version 1"),
        "{why}"
    );
    assert_eq!(info(&host.list(), "abi99.so").abi, Some(99));
    assert!(refusal(&host, "small.so").contains("plugin table is 16 bytes, kpid needs at least 56"));
    assert!(refusal(&host, "noparse.so").contains("create, parse or destroy is null"));
    assert!(
        host.make("words", "").is_none(),
        "a refused plugin makes no parser"
    );

    let dir = plugin_dir();
    cc_plugin("words.c", &dir.path().join("json.so"), &["-DNAME=\"json\""]);
    cc_plugin(
        "words.c",
        &dir.path().join("space.so"),
        &["-DNAME=\"two words\""],
    );
    let host = PluginHost::load_dir(dir.path());
    assert!(refusal(&host, "json.so").contains("parser name `json` is a built-in parser's"));
    assert!(refusal(&host, "space.so").contains("name `two words` is not [A-Za-z0-9_.-]{1,64}"));
}

#[test]
fn same_name_from_another_file_is_refused() {
    let dir = plugin_dir();
    cc_plugin("words.c", &dir.path().join("a.so"), &[]);
    cc_plugin("words.c", &dir.path().join("b.so"), &["-DWORDS_VERSION=2"]);
    let host = PluginHost::load_dir(dir.path());
    assert_eq!(info(&host.list(), "a.so").status, "loaded");
    assert!(refusal(&host, "b.so").contains("parser name `words` is already provided by"));
}

#[test]
fn a_panicking_plugin_costs_the_line_not_the_daemon() {
    let dir = plugin_dir();
    rust_plugin("panicky.rs", &dir.path().join("panicky.so"));
    let host = PluginHost::load_dir(dir.path());
    let mut p = host.make("panicky", "").unwrap().unwrap();
    let mut rec = Record::new();
    p.parse(b"fine", &mut rec).unwrap();
    assert_eq!(rec.get(b"len"), Some(&Value::Int(4)));
    let mut rec = rec.recycle();
    let err = p.parse(b"panic now", &mut rec).unwrap_err();
    assert_eq!(
        err,
        ParseError::Invalid("plugin `panicky` panicked: asked to panic by \"panic now\"".into())
    );
    assert!(rec.fields.is_empty());
    for _ in 0..100 {
        let mut rec = Record::new();
        assert!(p.parse(b"panic again", &mut rec).is_err());
    }
    let mut rec = Record::new();
    p.parse(b"still fine", &mut rec).unwrap();
    assert_eq!(rec.get(b"len"), Some(&Value::Int(10)));
    let list = host.list();
    let info = info(&list, "panicky.so");
    assert_eq!(
        (info.version.as_str(), info.lines, info.errors),
        ("0.0.1", 103, 101)
    );
}

#[test]
fn missing_directory_is_a_problem_not_a_crash() {
    let host = PluginHost::load_dir(Path::new("/nonexistent/kpid-plugins"));
    assert!(host.list().is_empty());
    let problem = host.problem().unwrap();
    assert!(problem.contains("/nonexistent/kpid-plugins"), "{problem}");
}

#[test]
fn health_section_shows_plugins_and_their_figures() {
    use kpid::health::{HealthSection, Status};
    let dir = plugin_dir();
    cc_plugin("words.c", &dir.path().join("words.so"), &[]);
    let host = PluginHost::load_dir(dir.path());
    assert_eq!(
        (host.name(), host.status(), host.losses()),
        ("plugins", Status::Ok, 0)
    );
    let mut p = host.make("words", "").unwrap().unwrap();
    for line in [&b"a b"[..], b"", b"c"] {
        let _ = p.parse(line, &mut Record::new());
    }
    let json = host.snapshot();
    assert_eq!(json[0]["name"], "words");
    assert_eq!(
        (json[0]["lines"].as_u64(), json[0]["errors"].as_u64()),
        (Some(3), Some(1))
    );
    let mut prom = String::new();
    host.prometheus(&mut prom);
    let path = dir.path().join("words.so");
    let labels = format!(
        "plugin=\"words\",version=\"1.0\",path=\"{}\"",
        path.display()
    );
    assert!(
        prom.contains(&format!("kpid_plugin_lines_total{{{labels}}} 3\n")),
        "{prom}"
    );
    assert!(
        prom.contains(&format!("kpid_plugin_errors_total{{{labels}}} 1\n")),
        "{prom}"
    );
    assert!(prom.contains("kpid_plugins_refused 0\n"), "{prom}");

    std::fs::write(dir.path().join("junk.so"), b"junk").unwrap();
    chmod(&dir.path().join("junk.so"), 0o644);
    host.rescan();
    std::thread::sleep(std::time::Duration::from_millis(400));
    host.rescan();
    assert_eq!((host.status(), host.losses()), (Status::Warn, 1));
}

//! Plugins that appear or change while the daemon runs: a hot-added plugin loads, a changed
//! file loads as a new version while parsers made from the old one keep running on it.

mod plugin_support;

use kpid::plugin_host::PluginHost;
use kpid_parsers::{Parser, Record, Value};
use plugin_support::*;
use std::sync::Arc;
use std::time::{Duration, Instant};

fn version_of(p: &mut dyn Parser) -> Value<'static> {
    let mut rec = Record::new();
    p.parse(b"a b", &mut rec).unwrap();
    match rec.get(b"version").unwrap() {
        Value::Int(v) => Value::Int(*v),
        other => panic!("version is {other:?}"),
    }
}

#[test]
fn a_hot_added_plugin_is_loaded_by_the_watcher() {
    let dir = plugin_dir();
    let host = Arc::new(PluginHost::load_dir(dir.path()));
    assert!(host.list().is_empty());
    host.watch_every(Duration::from_millis(50));
    let build = tempfile::tempdir().unwrap();
    cc_plugin("words.c", &build.path().join("words.so"), &[]);
    install(&build.path().join("words.so"), dir.path(), "words.so");
    let deadline = Instant::now() + Duration::from_secs(30);
    while host.make("words", "").is_none() {
        assert!(Instant::now() < deadline, "not loaded: {:#?}", host.list());
        std::thread::sleep(Duration::from_millis(20));
    }
    let mut p = host.make("words", "").unwrap().unwrap();
    assert_eq!(version_of(p.as_mut()), Value::Int(1));
    assert_eq!(host.list().len(), 1, "{:#?}", host.list());
}

#[test]
fn a_changed_file_loads_as_a_new_version_and_the_old_one_keeps_serving() {
    let dir = plugin_dir();
    let path = dir.path().join("words.so");
    cc_plugin("words.c", &path, &[]);
    let host = PluginHost::load_dir(dir.path());
    let mut v1 = host.make("words", "").unwrap().unwrap();
    assert_eq!(version_of(v1.as_mut()), Value::Int(1));

    // Rewrite the file in place (same inode): the loaded copy must not change under us.
    let build = tempfile::tempdir().unwrap();
    cc_plugin(
        "words.c",
        &build.path().join("v2.so"),
        &["-DWORDS_VERSION=2"],
    );
    std::fs::write(&path, std::fs::read(build.path().join("v2.so")).unwrap()).unwrap();
    assert_eq!(version_of(v1.as_mut()), Value::Int(1));
    // Rescans skip files changed in the last moments (they may be half-written).
    let deadline = Instant::now() + Duration::from_secs(30);
    while host.rescan() == 0 {
        assert!(
            Instant::now() < deadline,
            "the changed file was never rescanned"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(host.rescan(), 0, "an unchanged file is not loaded again");

    let list = host.list();
    let status: Vec<_> = list
        .iter()
        .map(|p| (p.version.as_str(), p.status.as_str()))
        .collect();
    assert_eq!(
        status,
        [("1.0", "superseded"), ("2.0", "loaded")],
        "{list:#?}"
    );
    let mut v2 = host.make("words", "").unwrap().unwrap();
    assert_eq!(version_of(v2.as_mut()), Value::Int(2));
    assert_eq!(
        version_of(v1.as_mut()),
        Value::Int(1),
        "parsers of the old version keep running"
    );
    let list = host.list();
    assert_eq!(
        (list[0].lines, list[1].lines),
        (3, 1),
        "each version counts its own lines"
    );

    // A broken rewrite is refused and the current version stays.
    std::fs::write(&path, b"garbage").unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while host.rescan() == 0 {
        assert!(Instant::now() < deadline);
        std::thread::sleep(Duration::from_millis(50));
    }
    let list = host.list();
    assert_eq!(list.len(), 3, "{list:#?}");
    assert!(list[2].status.contains("bad magic"), "{list:#?}");
    let mut still = host.make("words", "").unwrap().unwrap();
    assert_eq!(version_of(still.as_mut()), Value::Int(2));
}

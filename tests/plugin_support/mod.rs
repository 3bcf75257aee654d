//! Builds real plugins for the plugin tests: the workspace's Rust cdylibs through cargo (in a
//! target directory of their own, so the build never waits on the test run's), C plugins with
//! `cc`, and Rust test plugins with rustc against the SDK.
#![allow(dead_code)]

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// The workspace root.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// `target/<profile>` of this test binary, and the cargo profile it corresponds to.
fn profile() -> (PathBuf, String) {
    let exe = std::env::current_exe().unwrap();
    let dir = exe.parent().unwrap();
    let dir = if dir.ends_with("deps") {
        dir.parent().unwrap()
    } else {
        dir
    };
    let name = dir.file_name().unwrap().to_string_lossy().into_owned();
    let profile = if name == "debug" {
        "dev".to_string()
    } else {
        name
    };
    (dir.to_path_buf(), profile)
}

/// The plugin crates' own target directory, beside this profile's.
fn plugin_target() -> PathBuf {
    profile().0.parent().unwrap().join("plugin-tests")
}

/// Builds the workspace's plugin crates once; returns their output directory.
fn built() -> &'static Path {
    static OUT: OnceLock<PathBuf> = OnceLock::new();
    OUT.get_or_init(|| {
        let (_, profile) = profile();
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let status = Command::new(cargo)
            .current_dir(root())
            .args(["build", "--quiet", "--profile", &profile])
            .args([
                "-p",
                "kpid-plugin",
                "-p",
                "kpid-plugin-nginx",
                "-p",
                "kpid-plugin-runner",
            ])
            .env("CARGO_TARGET_DIR", plugin_target())
            .status()
            .expect("run cargo build for the plugins");
        assert!(status.success(), "cargo build of the plugin crates failed");
        let dir = if profile == "dev" {
            "debug".to_string()
        } else {
            profile
        };
        plugin_target().join(dir)
    })
}

/// A workspace plugin's shared library (`nginx`, `runner`).
pub fn workspace_plugin(name: &str) -> PathBuf {
    let lib = built().join(format!("libkpid_plugin_{name}.so"));
    assert!(lib.exists(), "{} was not built", lib.display());
    lib
}

/// Compiles `tests/data/plugins/<src>` with cc into `out` (mode 0755), with extra flags.
pub fn cc_plugin(src: &str, out: &Path, flags: &[&str]) {
    let status = Command::new(std::env::var("CC").unwrap_or_else(|_| "cc".into()))
        .args([
            "-std=c11", "-Wall", "-Wextra", "-Werror", "-shared", "-fPIC", "-I",
        ])
        .arg(root().join("plugins/include"))
        .args(flags)
        .arg(root().join("tests/data/plugins").join(src))
        .arg("-o")
        .arg(out)
        .status()
        .expect("run cc");
    assert!(status.success(), "cc {src} {flags:?} failed");
    chmod(out, 0o755);
}

/// Compiles the Rust plugin `tests/data/plugins/<src>` against the SDK into `out`.
pub fn rust_plugin(src: &str, out: &Path) {
    let sdk = built().join("libkpid_plugin.rlib");
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let status = Command::new(rustc)
        .args([
            "--edition",
            "2021",
            "--crate-type",
            "cdylib",
            "--crate-name",
            "test_plugin",
        ])
        .arg("--extern")
        .arg(format!("kpid_plugin={}", sdk.display()))
        .arg("-L")
        .arg(format!("dependency={}", built().join("deps").display()))
        .arg(root().join("tests/data/plugins").join(src))
        .arg("-o")
        .arg(out)
        .status()
        .expect("run rustc");
    assert!(status.success(), "rustc {src} failed");
    chmod(out, 0o755);
}

/// Sets a file's or directory's mode.
pub fn chmod(path: &Path, mode: u32) {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

/// A fresh plugin directory only its owner can write.
pub fn plugin_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    chmod(dir.path(), 0o700);
    dir
}

/// Copies a library into `dir` under `name` (mode 0755), atomically (write, then rename).
pub fn install(lib: &Path, dir: &Path, name: &str) -> PathBuf {
    let tmp = dir.join(format!(".{name}.tmp"));
    std::fs::copy(lib, &tmp).unwrap();
    chmod(&tmp, 0o755);
    let dest = dir.join(name);
    std::fs::rename(&tmp, &dest).unwrap();
    dest
}

/// True when this process may chown files to other users.
pub fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

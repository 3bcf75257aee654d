//! Trusted directories against the built binary: a state or socket directory another user
//! created (world-writable) is refused with a message naming it; kpid's own directory left
//! open to others is closed (mode fixed, warning) and a symlink another user planted there
//! is never written through. The attacker's steps run as another user (uid 65534) when the
//! tests run as root; otherwise those tests say so and check what a user can.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};

const OTHER: u32 = 65534;

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

/// Runs `sh -c script` as the other user, in `dir`.
fn as_other(dir: &Path, script: &str) {
    let st = Command::new("sh")
        .args(["-c", script])
        .current_dir(dir)
        .uid(OTHER)
        .gid(OTHER)
        .status()
        .unwrap();
    assert!(st.success(), "{script}");
}

/// A world-writable (sticky-less) playground, as a shared directory would be.
fn playground() -> tempfile::TempDir {
    let t = tempfile::tempdir().unwrap();
    std::fs::set_permissions(t.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
    t
}

/// Starts kpid; Err(its stderr) when it exits within 3 s, Ok(stderr so far) when it is
/// still running after that (then it is stopped with SIGTERM).
fn run(dir: &Path, args: &[&str]) -> Result<String, String> {
    let log = tempfile::NamedTempFile::new().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_kpid"))
        .args(args)
        .args(["--port", "0"])
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log.reopen().unwrap())
        .spawn()
        .unwrap();
    let read = || std::fs::read_to_string(log.path()).unwrap();
    for _ in 0..30 {
        if let Some(st) = child.try_wait().unwrap() {
            return if st.success() {
                Ok(read())
            } else {
                Err(read())
            };
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    // SAFETY: kill on our own child's pid.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let _ = child.wait();
    Ok(read())
}

#[test]
fn a_state_dir_another_user_created_is_refused_and_left_alone() {
    if !is_root() {
        eprintln!("skipped: needs root to act as another user");
        return;
    }
    let t = playground();
    as_other(t.path(), "mkdir -m 777 state");
    let err = run(t.path(), &["--state-dir", "state", "--no-socket"])
        .expect_err("kpid must refuse the directory");
    assert!(
        err.contains("state directory") && err.contains("owned by uid 65534"),
        "{err}"
    );
    let m = std::fs::metadata(t.path().join("state")).unwrap();
    assert_eq!((m.uid(), m.mode() & 0o777), (OTHER, 0o777));
    assert_eq!(
        std::fs::read_dir(t.path().join("state")).unwrap().count(),
        0
    );
}

#[test]
fn a_socket_dir_another_user_can_write_is_refused() {
    if !is_root() {
        eprintln!("skipped: needs root to act as another user");
        return;
    }
    let t = playground();
    as_other(t.path(), "mkdir -m 777 run");
    let err = run(t.path(), &["--socket", "run/kpid.sock", "--no-state"])
        .expect_err("kpid must refuse the socket directory");
    assert!(
        err.contains("socket directory") && err.contains("65534"),
        "{err}"
    );
    assert!(!t.path().join("run/kpid.sock").exists());
}

#[test]
fn own_state_dir_left_open_is_closed_and_a_planted_symlink_is_not_followed() {
    let t = playground();
    let state = t.path().join("state");
    std::fs::create_dir(&state).unwrap();
    std::fs::set_permissions(&state, std::fs::Permissions::from_mode(0o777)).unwrap();
    let victim = t.path().join("victim");
    std::fs::write(&victim, "precious\n").unwrap();
    std::fs::set_permissions(&victim, std::fs::Permissions::from_mode(0o600)).unwrap();
    // The attack the outside testers ran: a symlink at the old temporary name.
    let plant = format!("ln -s {} state/checkpoint.json.tmp", victim.display());
    if is_root() {
        as_other(t.path(), &plant);
    } else {
        Command::new("sh")
            .args(["-c", &plant])
            .current_dir(t.path())
            .status()
            .unwrap();
    }
    std::fs::write(t.path().join("app.log"), "{\"level\":\"info\",\"n\":1}\n").unwrap();
    let err = run(
        t.path(),
        &[
            "--log",
            "app.log",
            "--from-start",
            "--state-dir",
            "state",
            "--no-socket",
        ],
    )
    .expect("kpid runs in its own directory");
    assert!(state.join("checkpoint.json").exists(), "{err}");
    assert!(
        err.contains("state directory") && err.contains("700"),
        "{err}"
    );
    assert_eq!(std::fs::metadata(&state).unwrap().mode() & 0o777, 0o700);
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious\n");
    // kpid's own token is made without following anything either.
    let tok = std::fs::symlink_metadata(state.join("token"));
    assert!(tok.is_err() || !tok.unwrap().file_type().is_symlink());
}

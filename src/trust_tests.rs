use super::*;
use std::os::unix::fs::{symlink, PermissionsExt};

fn mode(p: &Path) -> u32 {
    fs::symlink_metadata(p).unwrap().permissions().mode() & 0o7777
}

/// A directory another user owns: chowned when the tests run as root, else one of root's.
fn foreign_dir(tmp: &Path) -> PathBuf {
    if euid() == 0 {
        let d = tmp.join("theirs");
        fs::create_dir(&d).unwrap();
        fs::set_permissions(&d, fs::Permissions::from_mode(0o777)).unwrap();
        let c = std::ffi::CString::new(d.as_os_str().as_encoded_bytes()).unwrap();
        // SAFETY: a valid NUL-terminated path.
        assert_eq!(unsafe { libc::chown(c.as_ptr(), 65534, 65534) }, 0);
        d
    } else {
        PathBuf::from("/")
    }
}

#[test]
fn missing_dir_is_created_owner_only() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path().join("a/b");
    assert!(dir(&d, "state directory", Sharing::Private)
        .unwrap()
        .is_none());
    assert_eq!(mode(&d), 0o700);
}

#[test]
fn own_dir_open_to_others_is_fixed_and_said() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path().join("state");
    fs::create_dir(&d).unwrap();
    fs::set_permissions(&d, fs::Permissions::from_mode(0o777)).unwrap();
    let w = dir(&d, "state directory", Sharing::Private)
        .unwrap()
        .unwrap();
    assert!(w.contains("777") && w.contains("700"), "{w}");
    assert_eq!(mode(&d), 0o700);
    fs::set_permissions(&d, fs::Permissions::from_mode(0o777)).unwrap();
    dir(&d, "socket directory", Sharing::SocketParent)
        .unwrap()
        .unwrap();
    assert_eq!(mode(&d), 0o755);
}

#[test]
fn attacker_created_dir_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let d = foreign_dir(tmp.path());
    let e = dir(&d, "state directory", Sharing::Private)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("owned by uid") && e.contains("state directory"),
        "{e}"
    );
    if euid() == 0 {
        // Still 0777: kpid changes nothing it does not own.
        assert_eq!(mode(&d), 0o777);
        let e = dir(&d, "socket directory", Sharing::SocketParent).unwrap_err();
        assert!(e.to_string().contains("owned by uid 65534"), "{e}");
    }
}

#[test]
fn sticky_root_dir_may_hold_a_socket_but_not_state() {
    let tmp = Path::new("/tmp");
    if fs::metadata(tmp).unwrap().uid() != 0 || euid() == 0 {
        return; // root owns everything it creates; the sticky case is checked as a user
    }
    assert!(dir(tmp, "socket directory", Sharing::SocketParent).is_ok());
    assert!(dir(tmp, "state directory", Sharing::Private).is_err());
}

#[test]
fn symlinked_dir_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let real = tmp.path().join("real");
    fs::create_dir(&real).unwrap();
    let link = tmp.path().join("link");
    symlink(&real, &link).unwrap();
    let e = dir(&link, "state directory", Sharing::Private)
        .unwrap_err()
        .to_string();
    assert!(e.contains("is a symlink"), "{e}");
}

#[test]
fn planted_symlink_is_never_written_through() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path().join("state");
    dir(&d, "state directory", Sharing::Private).unwrap();
    let victim = tmp.path().join("victim");
    fs::write(&victim, b"precious").unwrap();
    // At the target name: the rename replaces the link itself.
    symlink(&victim, d.join("checkpoint.json")).unwrap();
    write_atomic(&d, "checkpoint.json", b"{}").unwrap();
    assert_eq!(fs::read(&victim).unwrap(), b"precious");
    assert!(!fs::symlink_metadata(d.join("checkpoint.json"))
        .unwrap()
        .file_type()
        .is_symlink());
    // At a name created exclusively: refused, and reading it does not follow it either.
    symlink(&victim, d.join("token")).unwrap();
    assert!(!create_new(&d.join("token"), b"x").unwrap());
    assert_eq!(fs::read(&victim).unwrap(), b"precious");
    let e = read(&d.join("token"), true).unwrap_err().to_string();
    assert!(e.contains("symlink"), "{e}");
}

#[test]
fn private_file_open_to_others_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let f = tmp.path().join("token");
    assert!(create_new(&f, b"abc").unwrap());
    assert_eq!(mode(&f), 0o600);
    assert_eq!(read(&f, true).unwrap().unwrap(), b"abc");
    fs::set_permissions(&f, fs::Permissions::from_mode(0o644)).unwrap();
    let e = read(&f, true).unwrap_err().to_string();
    assert!(e.contains("0600"), "{e}");
    assert!(read(&tmp.path().join("none"), true).unwrap().is_none());
}

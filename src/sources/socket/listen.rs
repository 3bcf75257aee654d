//! Binding the socket so that nobody else can ever connect through it: the socket is bound
//! in a fresh `0700` directory beside the target, given mode `0600` there (unreachable by
//! anyone else), then renamed into place. The rename is atomic and replaces a stale socket
//! file; a live one (another daemon answers) or a file that is not a socket is left alone.

use crate::trust::{self, Sharing};
use std::fs::{self, DirBuilder};
use std::io;
use std::os::unix::fs::{DirBuilderExt, FileTypeExt, MetadataExt, PermissionsExt};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};

/// Identity of the socket file we created, to remove only our own on shutdown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct FileId {
    dev: u64,
    ino: u64,
}

impl FileId {
    fn of(path: &Path) -> io::Result<Self> {
        let m = fs::symlink_metadata(path)?;
        Ok(FileId {
            dev: m.dev(),
            ino: m.ino(),
        })
    }
}

fn err(kind: io::ErrorKind, msg: String) -> io::Error {
    io::Error::new(kind, msg)
}

/// Checks what is at `path` now: nothing, or a stale socket, is fine.
fn check_existing(path: &Path) -> io::Result<()> {
    let meta = match fs::symlink_metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => {
            return Err(err(
                e.kind(),
                format!("socket path {}: {e}", path.display()),
            ))
        }
    };
    if !meta.file_type().is_socket() {
        return Err(err(
            io::ErrorKind::AlreadyExists,
            format!(
                "socket path {} exists and is not a socket; not replacing it",
                path.display()
            ),
        ));
    }
    match UnixStream::connect(path) {
        Ok(_) => Err(err(
            io::ErrorKind::AddrInUse,
            format!("socket {} is in use by a running daemon", path.display()),
        )),
        Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => Ok(()), // stale
        Err(e) => Err(err(
            e.kind(),
            format!(
                "socket {}: cannot tell whether it is stale: {e}",
                path.display()
            ),
        )),
    }
}

/// Binds `path` owner-only (see the module doc). Creates missing parent directories `0700`;
/// an existing one must be kpid's (or root's and closed to others, or sticky like `/tmp`).
pub(crate) fn bind(path: &Path) -> io::Result<(UnixListener, FileId)> {
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    if path.file_name().is_none() {
        return Err(err(
            io::ErrorKind::InvalidInput,
            format!("socket path {} has no file name", path.display()),
        ));
    }
    // Another user who can write the directory could rename the socket away and bind theirs.
    match trust::dir(&parent, "socket directory", Sharing::SocketParent) {
        Ok(Some(warning)) => tracing::warn!("{warning}"),
        Ok(None) => {}
        Err(e) => return Err(err(io::ErrorKind::PermissionDenied, e.to_string())),
    }
    check_existing(path)?;
    let nonce = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    let private = parent.join(format!(".kpid-bind-{}-{nonce}", std::process::id()));
    DirBuilder::new()
        .mode(0o700)
        .create(&private)
        .map_err(|e| {
            err(
                e.kind(),
                format!("private bind directory {}: {e}", private.display()),
            )
        })?;
    let result = (|| {
        let tmp = private.join("s");
        let listener = UnixListener::bind(&tmp)
            .map_err(|e| err(e.kind(), format!("binding socket {}: {e}", tmp.display())))?;
        fs::set_permissions(&tmp, fs::Permissions::from_mode(0o600))?;
        fs::rename(&tmp, path).map_err(|e| {
            err(
                e.kind(),
                format!("moving socket into {}: {e}", path.display()),
            )
        })?;
        Ok((listener, FileId::of(path)?))
    })();
    let _ = fs::remove_dir_all(&private);
    result
}

/// Removes the socket file at `path` if it is still the one we created.
pub(crate) fn remove_if_ours(path: &Path, id: FileId) {
    if FileId::of(path).is_ok_and(|now| now == id) {
        let _ = fs::remove_file(path);
    }
}

/// The effective uid of this process.
pub(crate) fn own_uid() -> u32 {
    trust::euid()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binds_owner_only_and_replaces_only_stale_sockets() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/kpid.sock");
        let (l, id) = bind(&path).unwrap();
        let mode = fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let dmode = fs::metadata(path.parent().unwrap())
            .unwrap()
            .permissions()
            .mode()
            & 0o777;
        assert_eq!(dmode, 0o700);
        let e = bind(&path).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::AddrInUse, "{e}");
        drop(l); // now stale: the file stays, nobody listens
        assert!(path.exists());
        let (_l2, id2) = bind(&path).unwrap();
        assert_ne!(id, id2);
        remove_if_ours(&path, id);
        assert!(path.exists(), "not ours any more");
        remove_if_ours(&path, id2);
        assert!(!path.exists());
        let no_leftovers = fs::read_dir(path.parent().unwrap()).unwrap().count();
        assert_eq!(no_leftovers, 0);

        let file = dir.path().join("plain");
        fs::write(&file, b"data").unwrap();
        assert_eq!(
            bind(&file).unwrap_err().kind(),
            io::ErrorKind::AlreadyExists
        );
        assert_eq!(fs::read(&file).unwrap(), b"data");
    }
}

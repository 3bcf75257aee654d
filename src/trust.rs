//! Trusted directories and files: where kpid keeps its state, token and socket.
//!
//! kpid often runs as root next to production pipelines, so a directory another user can
//! write is a way in: they could plant a symlink where kpid is about to write (and have it
//! overwrite a file of their choosing), or rename kpid's socket away and bind their own.
//! Before using a directory kpid checks, without following a symlink, that it is a directory
//! the effective user owns and that group and others cannot write; it fixes the mode of a
//! directory it owns, and refuses anything else with a message naming the directory.
//! Files are written through a temporary file created exclusively (`O_EXCL | O_NOFOLLOW`,
//! mode 0600) in the checked directory, then renamed over the target; files are read with
//! `O_NOFOLLOW`.

use std::fs::{self, DirBuilder, OpenOptions};
use std::io::{self, Read, Write};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// Why a directory or file is not trusted.
#[derive(Debug, thiserror::Error)]
pub enum TrustError {
    /// I/O on the directory or file.
    #[error("{what} {path}: {source}")]
    Io {
        /// What it is for (`state directory`, ...).
        what: &'static str,
        /// The path.
        path: PathBuf,
        /// Cause.
        source: io::Error,
    },
    /// A symlink, or not a directory.
    #[error("{what} {path}: {why}; kpid uses only a real directory it owns")]
    NotDir {
        /// What it is for.
        what: &'static str,
        /// The path.
        path: PathBuf,
        /// `is a symlink`, `is not a directory`.
        why: &'static str,
    },
    /// Owned by another user.
    #[error("{what} {path}: owned by uid {owner}, not by kpid's uid {uid}; refusing to use it (remove it or choose another directory)")]
    Owner {
        /// What it is for.
        what: &'static str,
        /// The path.
        path: PathBuf,
        /// Its owner.
        owner: u32,
        /// kpid's effective uid.
        uid: u32,
    },
}

/// The effective uid of this process.
pub fn euid() -> u32 {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() }
}

/// How a directory may be shared.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sharing {
    /// Only kpid's user: owned by it, mode fixed to 0700 (state, data).
    Private,
    /// A directory kpid only puts its socket into: its own (mode fixed to drop group and
    /// other write), or root's when no one else can write it or when it is sticky, like
    /// `/tmp` (nobody can rename or delete another user's file there).
    SocketParent,
}

/// Creates `path` (mode 0700, parents too) when missing, then checks it as `sharing` says.
/// Returns a warning to show when kpid had to fix its mode.
pub fn dir(
    path: &Path,
    what: &'static str,
    sharing: Sharing,
) -> Result<Option<String>, TrustError> {
    let io = |source| TrustError::Io {
        what,
        path: path.to_owned(),
        source,
    };
    match fs::symlink_metadata(path) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(path)
            .map_err(io)?,
        Err(e) => return Err(io(e)),
        Ok(_) => {}
    }
    let meta = fs::symlink_metadata(path).map_err(io)?;
    let why = if meta.file_type().is_symlink() {
        Some("is a symlink")
    } else if !meta.is_dir() {
        Some("is not a directory")
    } else {
        None
    };
    if let Some(why) = why {
        return Err(TrustError::NotDir {
            what,
            path: path.to_owned(),
            why,
        });
    }
    let (uid, owner, mode) = (euid(), meta.uid(), meta.mode() & 0o7777);
    if owner == uid {
        let keep = match sharing {
            Sharing::Private => 0o700,
            Sharing::SocketParent => !0o022,
        };
        if mode & !keep & 0o777 == 0 {
            return Ok(None);
        }
        let fixed = mode & keep;
        fs::set_permissions(path, fs::Permissions::from_mode(fixed)).map_err(io)?;
        return Ok(Some(format!(
            "{what} {}: mode was {mode:o}; kpid set it to {fixed:o} (group and others must not write it)",
            path.display()
        )));
    }
    let sticky = mode & 0o1000 != 0;
    if sharing == Sharing::SocketParent && owner == 0 && (mode & 0o022 == 0 || sticky) {
        return Ok(None);
    }
    Err(TrustError::Owner {
        what,
        path: path.to_owned(),
        owner,
        uid,
    })
}

/// Writes `bytes` to `dir/name` atomically: a temporary file created exclusively, without
/// following symlinks, mode 0600, synced, then renamed over `name`. `dir` must have been
/// checked with [`dir`].
pub fn write_atomic(dir: &Path, name: &str, bytes: &[u8]) -> io::Result<()> {
    let nonce = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    let tmp = dir.join(format!(".{name}.{}.{nonce}.tmp", std::process::id()));
    let written = (|| {
        let mut f = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .custom_flags(libc::O_NOFOLLOW)
            .open(&tmp)?;
        f.write_all(bytes)?;
        f.sync_data()?;
        fs::rename(&tmp, dir.join(name))
    })();
    if written.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    written
}

/// Creates `path` with `bytes` only if nothing is there (exclusive, no symlink followed,
/// mode 0600). Returns `false` when something already was.
pub fn create_new(path: &Path, bytes: &[u8]) -> io::Result<bool> {
    let mut f = match OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW)
        .open(path)
    {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => return Ok(false),
        Err(e) => return Err(e),
    };
    f.write_all(bytes)?;
    f.sync_data()?;
    Ok(true)
}

/// Reads a regular file without following a symlink; `None` when there is none. Refuses a
/// file another user owns or that group or others can read or write (`private`).
pub fn read(path: &Path, private: bool) -> io::Result<Option<Vec<u8>>> {
    let mut f = match OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .open(path)
    {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) if e.raw_os_error() == Some(libc::ELOOP) => {
            return Err(io::Error::other("is a symlink; not following it"))
        }
        Err(e) => return Err(e),
    };
    let meta = f.metadata()?;
    if !meta.is_file() {
        return Err(io::Error::other("is not a regular file"));
    }
    if private && (meta.uid() != euid() || meta.mode() & 0o077 != 0) {
        return Err(io::Error::other(format!(
            "owned by uid {} with mode {:o}; it must be kpid's (uid {}) and 0600",
            meta.uid(),
            meta.mode() & 0o777,
            euid()
        )));
    }
    let mut out = Vec::with_capacity(meta.len() as usize);
    f.read_to_end(&mut out)?;
    Ok(Some(out))
}

#[cfg(test)]
#[path = "trust_tests.rs"]
mod tests;

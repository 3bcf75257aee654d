//! File identity: device, inode and a fingerprint of the leading bytes.
//!
//! The fingerprint is FNV-1a (64 bit) over the first `fp_len` bytes (at most [`FP_MAX`]). It is
//! stable across releases (it is persisted in checkpoints), and it is what tells a truncated and
//! rewritten file, or a recycled inode, from the file that was read before. It also finds the
//! copy that `copytruncate` left beside a log: a sibling whose leading bytes hash the same.

use crate::sources::FileIdentity;
use std::fs::{File, Metadata};
use std::io;
use std::os::unix::fs::{FileExt, MetadataExt};
use std::path::{Path, PathBuf};

/// Bytes the fingerprint covers at most.
pub(crate) const FP_MAX: usize = 1024;

/// FNV-1a, 64 bit.
pub(crate) fn fnv1a(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

/// Reads up to `len` leading bytes of `file` (fewer when the file is shorter).
pub(crate) fn read_head(file: &File, len: usize) -> io::Result<Vec<u8>> {
    let mut buf = vec![0u8; len];
    let mut got = 0;
    while got < len {
        match file.read_at(&mut buf[got..], got as u64) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    buf.truncate(got);
    Ok(buf)
}

/// Identity of an open file: dev/ino from `meta`, fingerprint over what is there now.
pub(crate) fn identify(file: &File, meta: &Metadata) -> io::Result<FileIdentity> {
    let head = read_head(file, FP_MAX)?;
    Ok(FileIdentity {
        dev: meta.dev(),
        ino: meta.ino(),
        fingerprint: fnv1a(&head),
        fp_len: head.len() as u32,
    })
}

/// Outcome of re-reading the head of a file we follow.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum HeadCheck {
    /// The leading bytes are those fingerprinted; the fingerprint may have grown.
    Same,
    /// The leading bytes changed (or the file got shorter than the fingerprint): the file was
    /// truncated and possibly rewritten.
    Changed,
}

/// Checks `id`'s fingerprint against `file` and, when it still matches and the file is longer
/// than what the fingerprint covers, extends the fingerprint (one read of the head, so the check
/// and the extension see the same bytes).
pub(crate) fn check_head(file: &File, id: &mut FileIdentity) -> io::Result<HeadCheck> {
    let head = read_head(file, FP_MAX)?;
    let len = id.fp_len as usize;
    if head.len() < len || fnv1a(&head[..len]) != id.fingerprint {
        return Ok(HeadCheck::Changed);
    }
    if head.len() > len {
        id.fingerprint = fnv1a(&head);
        id.fp_len = head.len() as u32;
    }
    Ok(HeadCheck::Same)
}

/// True when `file` (with metadata `meta`) starts with the bytes `id` fingerprinted.
/// `same_inode` also requires dev and inode to match (a renamed file); without it any file with
/// the same leading bytes matches (a copy).
pub(crate) fn matches(
    file: &File,
    meta: &Metadata,
    id: &FileIdentity,
    same_inode: bool,
) -> io::Result<bool> {
    if same_inode && (meta.dev() != id.dev || meta.ino() != id.ino) {
        return Ok(false);
    }
    if (meta.len() as usize) < id.fp_len as usize {
        return Ok(false);
    }
    let head = read_head(file, id.fp_len as usize)?;
    Ok(head.len() == id.fp_len as usize && fnv1a(&head) == id.fingerprint)
}

/// Finds a regular file beside `path` (in its directory, and in its target's directory when it
/// is a symlink) whose leading bytes match `id`. With `same_inode`, only the very file (renamed)
/// matches; otherwise a copy does, and among several the most recently modified wins. Files with
/// an inode in `exclude` are skipped. Returns the open file, its metadata and its path.
pub(crate) fn find_sibling(
    path: &Path,
    id: &FileIdentity,
    same_inode: bool,
    exclude: &[(u64, u64)],
) -> Option<(File, Metadata, PathBuf)> {
    if id.fp_len == 0 && !same_inode {
        return None; // an empty file has no content to recognise a copy by
    }
    let mut best: Option<(File, Metadata, PathBuf)> = None;
    for dir in sibling_dirs(path) {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let candidate = entry.path();
            let Ok(meta) = std::fs::metadata(&candidate) else {
                continue;
            };
            if !meta.is_file()
                || exclude.contains(&(meta.dev(), meta.ino()))
                || (meta.len() as usize) < id.fp_len as usize
            {
                continue;
            }
            let Ok(file) = File::open(&candidate) else {
                continue;
            };
            // What was opened, not what was listed (a rename may have come in between).
            let Ok(meta) = file.metadata() else { continue };
            if exclude.contains(&(meta.dev(), meta.ino()))
                || !matches(&file, &meta, id, same_inode).unwrap_or(false)
            {
                continue;
            }
            let newer = match &best {
                None => true,
                Some((_, m, _)) => {
                    meta.mtime() > m.mtime()
                        || (meta.mtime() == m.mtime() && meta.mtime_nsec() > m.mtime_nsec())
                }
            };
            if newer {
                best = Some((file, meta, candidate));
            }
        }
    }
    best
}

/// The directory of `path` and, when it is a symlink, its target's directory.
fn sibling_dirs(path: &Path) -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = Vec::new();
    if let Some(parent) = path.parent() {
        dirs.push(parent.to_path_buf());
    }
    if let Ok(real) = std::fs::canonicalize(path) {
        if let Some(parent) = real.parent() {
            if !dirs.iter().any(|d| d == parent) {
                dirs.push(parent.to_path_buf());
            }
        }
    }
    for d in &mut dirs {
        if d.as_os_str().is_empty() {
            *d = PathBuf::from(".");
        }
    }
    dirs
}

/// Finds the file with `id`'s device and inode beside `path` (or at it), whatever its content
/// now: a checkpointed file truncated and rewritten since.
pub(crate) fn find_inode(path: &Path, id: &FileIdentity) -> Option<(File, Metadata, PathBuf)> {
    for dir in sibling_dirs(path) {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let candidate = entry.path();
            let Ok(meta) = std::fs::metadata(&candidate) else {
                continue;
            };
            if meta.is_file() && meta.dev() == id.dev && meta.ino() == id.ino {
                let Ok(file) = File::open(&candidate) else {
                    continue;
                };
                match file.metadata() {
                    Ok(m) if m.dev() == id.dev && m.ino() == id.ino => {
                        return Some((file, m, candidate))
                    }
                    _ => continue,
                }
            }
        }
    }
    None
}

/// Modification time, for ordering.
pub(crate) fn mtime(meta: &Metadata) -> std::time::SystemTime {
    meta.modified().unwrap_or(std::time::SystemTime::UNIX_EPOCH)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn fingerprint_grows_and_detects_rewrite() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a.log");
        let mut w = File::create(&p).unwrap();
        w.write_all(b"first\n").unwrap();
        let f = File::open(&p).unwrap();
        let mut id = identify(&f, &f.metadata().unwrap()).unwrap();
        assert_eq!(id.fp_len, 6);
        w.write_all(b"second\n").unwrap();
        assert_eq!(check_head(&f, &mut id).unwrap(), HeadCheck::Same);
        assert_eq!(id.fp_len, 13);
        w.set_len(0).unwrap();
        assert_eq!(check_head(&f, &mut id).unwrap(), HeadCheck::Changed);
        std::fs::write(&p, b"other content, longer than before\n").unwrap();
        assert_eq!(check_head(&f, &mut id).unwrap(), HeadCheck::Changed);
    }

    #[test]
    fn sibling_copy_is_found_by_leading_bytes() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a.log");
        std::fs::write(&p, b"line one\nline two\n").unwrap();
        let f = File::open(&p).unwrap();
        let meta = f.metadata().unwrap();
        let id = identify(&f, &meta).unwrap();
        std::fs::write(dir.path().join("unrelated"), b"something else entirely\n").unwrap();
        std::fs::copy(&p, dir.path().join("a.log.1")).unwrap();
        std::fs::write(&p, b"").unwrap();
        let own = [(meta.dev(), meta.ino())];
        let (_, _, found) = find_sibling(&p, &id, false, &own).unwrap();
        assert_eq!(found, dir.path().join("a.log.1"));
        assert!(find_sibling(&p, &id, true, &own).is_none());
    }
}

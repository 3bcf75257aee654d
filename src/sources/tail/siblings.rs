//! Rotation siblings: the files a rotation leaves beside a followed path (`app.log.1`,
//! `app.log.2.gz`, `app.log-20240101`, `app.log.2024-01-01`, `app.log_old`...), and finding
//! among them the files written while they could not be read (kpid down, or a file renamed away
//! before it was ever opened).
//!
//! A sibling is "new" when it was modified since a reference time (at startup: the last file
//! read from the previous run, or when the checkpoint was written; while running: when the
//! path began to be followed) and is neither a file seen before (its identity is known: it
//! resumes where reading stopped) nor a copy of one (its leading bytes are those of a known
//! file). New files are read from 0, oldest first. A look that raced with renames (an entry
//! vanished) is repeated at the next pass.

use super::follower::Follower;
use super::identity::{find_inode, find_sibling, matches, mtime};
use super::open_file::{OpenFile, Start};
use super::pass::Ctx;
use super::FileCheckpoint;
use std::cmp::Reverse;
use std::fs::{self, File, Metadata};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::SystemTime;

/// Compressed rotations: never read, counted as missed when they hold lines never read.
const COMPRESSED: [&str; 4] = [".gz", ".bz2", ".xz", ".zst"];

/// A rotation sibling.
#[derive(Debug)]
pub(crate) struct Sibling {
    pub path: PathBuf,
    pub meta: Metadata,
    pub compressed: bool,
    /// The number right after the name (`app.log.3` → 3): larger is older.
    pub rank: u64,
}

/// Regular files beside `path` named after it plus a separator (`.`, `-`, `_`) and anything,
/// in its directory and, for a symlink, beside its target. `true` with them when an entry
/// vanished while looking (renamed meanwhile: it may have been missed under its new name).
pub(crate) fn rotation_siblings(path: &Path) -> (Vec<Sibling>, bool) {
    let mut raced = false;
    let mut places: Vec<(PathBuf, String)> = Vec::new();
    let mut add = |p: &Path| {
        let (Some(dir), Some(name)) = (p.parent(), p.file_name().and_then(|n| n.to_str())) else {
            return;
        };
        let dir = if dir.as_os_str().is_empty() {
            PathBuf::from(".")
        } else {
            dir.to_path_buf()
        };
        if !places.iter().any(|(d, n)| *d == dir && n == name) {
            places.push((dir, name.to_string()));
        }
    };
    add(path);
    if let Ok(real) = std::fs::canonicalize(path) {
        add(&real);
    }
    let mut out = Vec::new();
    for (dir, name) in places {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let file_name = entry.file_name();
            let Some(n) = file_name.to_str() else {
                continue;
            };
            let Some(rest) = n.strip_prefix(name.as_str()) else {
                continue;
            };
            let Some(suffix) = rest.strip_prefix(['.', '-', '_']) else {
                continue;
            };
            let candidate = entry.path();
            let Ok(meta) = std::fs::metadata(&candidate) else {
                raced = true;
                continue;
            };
            if !meta.is_file() || out.iter().any(|s: &Sibling| same(&s.meta, &meta)) {
                continue;
            }
            let digits: String = suffix.chars().take_while(char::is_ascii_digit).collect();
            out.push(Sibling {
                compressed: COMPRESSED.iter().any(|c| n.ends_with(c)),
                rank: digits.parse().unwrap_or(0),
                path: candidate,
                meta,
            });
        }
    }
    (out, raced)
}

fn same(a: &Metadata, b: &Metadata) -> bool {
    a.dev() == b.dev() && a.ino() == b.ino()
}

impl Follower {
    /// At startup, with `checkpoints` of files followed at this path last time: finds each one
    /// that is no longer the file at the path among the rotation siblings (renamed, or a
    /// copytruncate copy) and queues it from its checkpoint, then queues every sibling written
    /// since (rotated while kpid was down, never read) from 0, oldest first.
    pub fn recover_at_start(&mut self, ctx: &mut Ctx, checkpoints: &[FileCheckpoint]) {
        let mut newest: Option<SystemTime> = None;
        let mut seen = |m: &fs::Metadata| {
            let t = mtime(m);
            newest = Some(newest.map_or(t, |n| n.max(t)));
        };
        for cp in checkpoints {
            let at_path = File::open(&self.path).and_then(|file| {
                let meta = file.metadata()?;
                Ok(matches(&file, &meta, &cp.identity, true)?.then_some(meta))
            });
            if let Ok(Some(meta)) = at_path {
                seen(&meta); // resumed from its offset when opened
                continue;
            }
            let open: Vec<(u64, u64)> = ctx.reg.open.iter().copied().collect();
            let found = find_sibling(&self.path, &cp.identity, true, &open)
                .map(|f| (f, cp.offset, true))
                .or_else(|| {
                    // Rewritten since (truncated, or a recycled inode): read from 0.
                    let f = find_inode(&self.path, &cp.identity)?;
                    let key = (f.1.dev(), f.1.ino());
                    let at_path = fs::metadata(&self.path).is_ok_and(|m| (m.dev(), m.ino()) == key);
                    (!at_path && !open.contains(&key)).then_some((f, 0, false))
                })
                .or_else(|| {
                    let copy = find_sibling(&self.path, &cp.identity, false, &open)?;
                    Some((copy, cp.offset, false))
                });
            if let Some(((file, meta, _), offset, same)) = found {
                seen(&meta);
                let path = Arc::new(self.path.clone());
                if let Ok(old) = OpenFile::new(file, &meta, path, Start::At(offset)) {
                    ctx.reg.opened(&old, same);
                    self.draining.push(old);
                }
            }
        }
        // Several old files: the least recently modified first.
        self.draining
            .sort_by_key(|d| d.file.metadata().map(|m| mtime(&m)).ok());
        if let Some(since) = newest.or_else(|| ctx.reg.checkpoints.loaded_at()) {
            self.sibling_retry = self.recover_siblings(ctx, since, true);
        }
    }

    /// Opens every new rotation sibling (modified at or after `since`) and queues it for
    /// draining, oldest first, after the files already draining. `startup`: compressed new
    /// siblings are counted as missed files (at runtime the files they were made from were
    /// open here). Returns `true` when renames raced with the look (look again).
    pub(super) fn recover_siblings(
        &mut self,
        ctx: &mut Ctx,
        since: SystemTime,
        startup: bool,
    ) -> bool {
        let mut found: Vec<(SystemTime, Reverse<u64>, OpenFile)> = Vec::new();
        let (siblings, mut raced) = rotation_siblings(&self.path);
        for sib in siblings {
            let key = (sib.meta.dev(), sib.meta.ino());
            if mtime(&sib.meta) < since {
                continue;
            }
            // Seen (an arrival it explains) only once its lines are sure to be read: open here
            // or elsewhere (an open file keeps its inode: the key is that file), read to its
            // end before, or opened now. Not when listed, compressed (never read) or a copy.
            if ctx.reg.open.contains(&key) {
                if !startup {
                    self.seen(&sib.meta);
                }
                continue;
            }
            if sib.compressed {
                if startup && ctx.reg.missed.insert(key) {
                    ctx.health.files.lock()[self.health].missed_files += 1;
                }
                continue;
            }
            let Ok(file) = File::open(&sib.path) else {
                raced = true;
                continue;
            };
            // What was opened, not what was listed: a rename may have put another file there.
            let Ok(meta) = file.metadata() else { continue };
            if !meta.is_file() || mtime(&meta) < since {
                continue;
            }
            if ctx.reg.open.contains(&(meta.dev(), meta.ino())) {
                if !startup {
                    self.seen(&meta);
                }
                continue;
            }
            let (start, same) = match ctx.reg.resume(&file, &meta) {
                Some(off) if off >= meta.len() => {
                    if !startup {
                        self.seen(&meta);
                    }
                    continue;
                }
                Some(off) => (off, true),
                None if ctx.reg.is_copy_of_known(&file, &meta) => continue,
                None => (0, false),
            };
            let path = Arc::new(self.path.clone());
            if let Ok(f) = OpenFile::new(file, &meta, path, Start::At(start)) {
                if !startup {
                    self.seen(&meta);
                }
                ctx.reg.opened(&f, same);
                found.push((mtime(&meta), Reverse(sib.rank), f));
            }
        }
        found.sort_by_key(|f| (f.0, f.1));

        self.draining.extend(found.into_iter().map(|(_, _, f)| f));
        raced
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn siblings_are_named_after_the_file() {
        let dir = tempfile::tempdir().unwrap();
        for n in [
            "app.log",
            "app.log.1",
            "app.log.2.gz",
            "app.log-20240101",
            "app.logger",
            "other.log.1",
        ] {
            std::fs::write(dir.path().join(n), b"x\n").unwrap();
        }
        std::fs::create_dir(dir.path().join("app.log.d")).unwrap();
        let mut got: Vec<(String, bool, u64)> = rotation_siblings(&dir.path().join("app.log"))
            .0
            .into_iter()
            .map(|s| {
                let n = s.path.file_name().unwrap().to_str().unwrap().to_string();
                (n, s.compressed, s.rank)
            })
            .collect();
        got.sort();
        assert_eq!(
            got,
            vec![
                ("app.log-20240101".to_string(), false, 20240101),
                ("app.log.1".to_string(), false, 1),
                ("app.log.2.gz".to_string(), true, 2),
            ]
        );
    }
}

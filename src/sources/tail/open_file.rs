//! One open file being read: its descriptor, identity and line state.
//!
//! Reads use `pread` at an explicit offset, so the descriptor keeps working after the file is
//! renamed or deleted. After every read the file's head is checked against the fingerprint:
//! bytes read from a file that was truncated and rewritten in the meantime are dropped, not
//! sent, and the truncation is handled instead.

use super::identity::{check_head, identify, HeadCheck};
use super::lines::{LineAssembler, Lines};
use crate::sources::FileIdentity;
use std::cell::Cell;
use std::fs::{File, Metadata};
use std::io;
use std::os::unix::fs::{FileExt, MetadataExt};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

/// Bytes read at most per batch.
pub(crate) const CHUNK: usize = 128 * 1024;

/// Where to start reading a file just opened.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Start {
    /// At this offset (0, or a checkpoint).
    At(u64),
    /// After the last complete line present now.
    End,
}

/// What a look at the file found.
#[derive(Debug)]
pub(crate) enum Read {
    /// Whole lines (possibly none, when only a partial line arrived).
    Lines(Lines),
    /// Nothing new.
    Eof,
    /// The file is shorter than what was read, or its head changed: it was truncated.
    Truncated { size: u64 },
}

/// An open file and how far it has been read.
#[derive(Debug)]
pub(crate) struct OpenFile {
    pub file: File,
    pub id: FileIdentity,
    /// Path it was opened under (reported in batches).
    pub path: Arc<PathBuf>,
    pub asm: LineAssembler,
    /// Largest size observed while the head still matched (to count bytes a truncation lost).
    pub seen_size: u64,
    /// Last time bytes were read from it (draining files are closed after a quiet period).
    pub last_growth: Instant,
    /// Fingerprint last registered with the checkpoints (length, hash).
    pub noted: Cell<(u32, u64)>,
}

impl OpenFile {
    /// Wraps an open regular file, starting at `start`.
    pub fn new(file: File, meta: &Metadata, path: Arc<PathBuf>, start: Start) -> io::Result<Self> {
        let id = identify(&file, meta)?;
        let size = meta.len();
        let pos = match start {
            Start::At(pos) => pos.min(size),
            Start::End => last_line_end(&file, size)?,
        };
        Ok(Self {
            file,
            id,
            path,
            asm: LineAssembler::new(pos),
            seen_size: size,
            last_growth: Instant::now(),
            noted: Cell::new((id.fp_len, id.fingerprint)),
        })
    }

    /// Device and inode.
    pub fn dev_ino(&self) -> (u64, u64) {
        (self.id.dev, self.id.ino)
    }

    /// True when `meta` describes this very file (same device and inode).
    pub fn is(&self, meta: &Metadata) -> bool {
        self.dev_ino() == (meta.dev(), meta.ino())
    }

    /// Reads the next chunk, if the file has grown. Bytes are only cut into lines (and the
    /// offset only advances) once the head has been checked after the read.
    pub fn read(&mut self, max_line: usize) -> io::Result<Read> {
        let size = self.file.metadata()?.len();
        let pos = self.asm.pos;
        if size < pos {
            return Ok(Read::Truncated { size });
        }
        if check_head(&self.file, &mut self.id)? == HeadCheck::Changed {
            return Ok(Read::Truncated { size });
        }
        self.seen_size = self.seen_size.max(size);
        if size == pos {
            return Ok(Read::Eof);
        }
        let room = CHUNK.min((size - pos) as usize);
        let (mut buf, start) = self.asm.buffer(room);
        let mut got = 0;
        while got < room {
            match pread_append(&self.file, &mut buf, room - got, pos + got as u64) {
                Ok(0) => break,
                Ok(n) => got += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        if got == 0 {
            return Ok(Read::Eof);
        }
        debug_assert_eq!(buf.len(), start + got);
        if check_head(&self.file, &mut self.id)? == HeadCheck::Changed {
            return Ok(Read::Truncated {
                size: self.file.metadata()?.len(),
            });
        }
        self.seen_size = self.seen_size.max(pos + got as u64);
        self.last_growth = Instant::now();
        Ok(Read::Lines(self.asm.split(buf, got, max_line)))
    }

    /// Starts over at offset 0 with a fresh identity (the old content was found elsewhere).
    pub fn rewind(&mut self) -> io::Result<()> {
        self.asm.reset(0);
        let meta = self.file.metadata()?;
        self.id = identify(&self.file, &meta)?;
        self.seen_size = meta.len();
        Ok(())
    }

    /// After a truncation in place: restarts reading at the right place and returns the bytes
    /// lost (present in the file, never delivered as lines). When the head still matches the
    /// file was only cut short and reading goes on from where the content still agrees;
    /// otherwise it was emptied (and maybe rewritten) and reading restarts at 0.
    pub fn restart_after_truncation(&mut self, size: u64) -> io::Result<u64> {
        let line_start = self.asm.line_start();
        let seen = self.seen_size.max(self.asm.pos);
        let head_same = size > 0 && check_head(&self.file, &mut self.id)? == HeadCheck::Same;
        let (pos, lost) = if head_same {
            (
                line_start.min(size),
                seen.saturating_sub(size.max(line_start)),
            )
        } else {
            (0, seen.saturating_sub(line_start))
        };
        self.asm.reset(pos);
        if !head_same {
            self.id = identify(&self.file, &self.file.metadata()?)?;
        }
        // Not `size`: it was read before the head was checked, and may be the old content's
        // (truncated since). What is beyond `pos` is observed by the next read, head checked.
        self.seen_size = pos;
        Ok(lost)
    }
}

/// Offset just after the last `\n` in the final 64 KiB of the file (0 for a small file with
/// none, `size` for a huge last line).
fn last_line_end(file: &File, size: u64) -> io::Result<u64> {
    const WINDOW: u64 = 64 * 1024;
    let from = size.saturating_sub(WINDOW);
    let mut buf = vec![0u8; (size - from) as usize];
    let mut got = 0;
    while got < buf.len() {
        match file.read_at(&mut buf[got..], from + got as u64) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(match memchr::memrchr(b'\n', &buf[..got]) {
        Some(i) => from + i as u64 + 1,
        None if from == 0 => 0,
        None => size,
    })
}

/// Reads at most `max` bytes of `file` at `offset` into `buf`'s spare capacity (which must
/// hold them) and appends them: the chunk buffer is never zeroed first (a memset of 128 KiB per
/// read was 2.5 % of the Apache benchmark's instructions).
fn pread_append(file: &File, buf: &mut Vec<u8>, max: usize, offset: u64) -> io::Result<usize> {
    use std::os::fd::AsRawFd;
    let spare = buf.spare_capacity_mut();
    let max = max.min(spare.len());
    let offset = libc::off_t::try_from(offset).map_err(|_| io::Error::other("offset too large"))?;
    // SAFETY: `pread` writes at most `max` bytes into the spare capacity, which is ours and
    // at least that long; `set_len` then exposes only the bytes it reports as written.
    let n = unsafe { libc::pread(file.as_raw_fd(), spare.as_mut_ptr().cast(), max, offset) };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    let n = n as usize;
    // SAFETY: the `n` bytes after the current length were just written by `pread`.
    unsafe { buf.set_len(buf.len() + n) };
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn open(path: &std::path::Path, start: Start) -> OpenFile {
        let f = File::open(path).unwrap();
        let meta = f.metadata().unwrap();
        OpenFile::new(f, &meta, Arc::new(path.to_path_buf()), start).unwrap()
    }

    #[test]
    fn start_at_end_keeps_partial_last_line() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a.log");
        std::fs::write(&p, b"old\nolder\nhalf").unwrap();
        let mut f = open(&p, Start::End);
        assert_eq!(f.asm.pos, 10);
        std::fs::OpenOptions::new()
            .append(true)
            .open(&p)
            .unwrap()
            .write_all(b" done\n")
            .unwrap();
        match f.read(1000).unwrap() {
            Read::Lines(l) => assert_eq!(l.data, b"half done\n"),
            other => panic!("unexpected {other:?}"),
        }
        assert!(matches!(f.read(1000).unwrap(), Read::Eof));
    }

    /// Regression (tests/tail_model.rs seed 2400, about 1 run in 60): a truncation found
    /// with a size read before the file was emptied left that old size as "seen" for the new
    /// content, so the next truncation counted the old content's bytes as lost a second time
    /// (2,070 bytes counted where 1,185 were missing).
    #[test]
    fn a_stale_size_at_a_truncation_is_not_counted_again() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a.log");
        std::fs::write(
            &p,
            b"aaaa
bbbb
",
        )
        .unwrap();
        let mut f = open(&p, Start::At(0));
        assert!(matches!(f.read(1000).unwrap(), Read::Lines(_)));
        // The size was 15 when looked at; the file was emptied and rewritten right after.
        std::fs::write(
            &p, b"cc
",
        )
        .unwrap();
        assert_eq!(f.restart_after_truncation(15).unwrap(), 0);
        match f.read(1000).unwrap() {
            Read::Lines(l) => assert_eq!(
                l.data,
                b"cc
"
            ),
            other => panic!("unexpected {other:?}"),
        }
        std::fs::write(&p, b"").unwrap();
        let Read::Truncated { size } = f.read(1000).unwrap() else {
            panic!("not detected")
        };
        assert_eq!(size, 0);
        assert_eq!(
            f.restart_after_truncation(size).unwrap(),
            0,
            "all 3 bytes were read"
        );
    }

    #[test]
    fn rewrite_past_old_offset_is_seen_as_truncation() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a.log");
        std::fs::write(&p, b"aaaa\nbbbb\n").unwrap();
        let mut f = open(&p, Start::At(0));
        assert!(matches!(f.read(1000).unwrap(), Read::Lines(_)));
        std::fs::write(&p, b"cccc\ndddd\neeee\n").unwrap();
        let Read::Truncated { size } = f.read(1000).unwrap() else {
            panic!("not detected")
        };
        assert_eq!(f.restart_after_truncation(size).unwrap(), 0);
        match f.read(1000).unwrap() {
            Read::Lines(l) => assert_eq!(l.data, b"cccc\ndddd\neeee\n"),
            other => panic!("unexpected {other:?}"),
        }
    }
}

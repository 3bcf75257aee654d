//! The data area the daemon and a worker share, after the progress page in the same memfd:
//! the request's lines (written by the daemon, read in place by the worker and its plugin),
//! then the reply (written by the worker, copied out by the daemon before it reads it).
//!
//! The pipes stay as doorbells (a few bytes each way per batch, and the end of file that tells
//! the daemon its worker died); a request or reply too big for its part of the area goes
//! through the pipe instead, as it always could.
//!
//! Who may touch which part when: the request part is the daemon's until it rings, then the
//! worker's until it replies; the reply part is the worker's until it replies. The daemon
//! never trusts the reply part: it copies it once into its own memory (a worker can still be
//! writing there, so the daemon never makes a reference into it) and decodes the copy.

use std::os::fd::RawFd;

/// Bytes of the request part (a request is `lines × u32 length`, then the lines).
pub const REQUEST_BYTES: usize = 1 << 20;
/// Bytes of the reply part.
pub const REPLY_BYTES: usize = 2 << 20;
/// Where the area starts in the memfd (after the progress page).
pub const OFFSET: usize = 4096;
/// Bytes of the whole area.
pub const BYTES: usize = REQUEST_BYTES + REPLY_BYTES;

/// A mapping of the data area.
#[derive(Debug)]
pub struct Area {
    base: *mut u8,
}

// SAFETY: a private mapping owned by this value; the protocol above says which side may use
// which part when, and the daemon only reads the worker's part through raw copies.
unsafe impl Send for Area {}

impl Area {
    /// Maps the area of the memfd `fd` (sized by the progress page's creator).
    pub fn map(fd: RawFd) -> std::io::Result<Area> {
        // SAFETY: mapping BYTES of a memfd at least OFFSET + BYTES long, shared.
        let p = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                BYTES,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED,
                fd,
                OFFSET as libc::off_t,
            )
        };
        if p == libc::MAP_FAILED {
            return Err(std::io::Error::last_os_error());
        }
        Ok(Area { base: p.cast() })
    }

    /// Daemon: writes a request for `lines` (`lines × u32 length`, then the lines); `false`
    /// (nothing written) when it does not fit.
    pub fn put_request(&mut self, lines: &[&[u8]]) -> Option<u32> {
        let total: usize = lines.iter().map(|l| l.len()).sum();
        let head = lines.len() * 4;
        if head + total > REQUEST_BYTES {
            return None;
        }
        let mut at = 0;
        for l in lines {
            // SAFETY: at + 4 <= head <= REQUEST_BYTES, inside the mapping; the worker does not
            // read the request part before the doorbell.
            unsafe {
                std::ptr::copy_nonoverlapping(
                    (l.len() as u32).to_le_bytes().as_ptr(),
                    self.base.add(at),
                    4,
                )
            };
            at += 4;
        }
        for l in lines {
            // SAFETY: as above: the lines add up to `total`, which fits after the lengths.
            unsafe { std::ptr::copy_nonoverlapping(l.as_ptr(), self.base.add(at), l.len()) };
            at += l.len();
        }
        Some(total as u32)
    }

    /// Worker: the request part, `len` bytes of it (at most `REQUEST_BYTES`).
    pub fn request(&self, len: usize) -> &[u8] {
        // SAFETY: inside the mapping; the daemon wrote it before ringing and does not touch it
        // again before this request's reply.
        unsafe { std::slice::from_raw_parts(self.base, len.min(REQUEST_BYTES)) }
    }

    /// Worker: copies a reply into the reply part; `false` when it does not fit.
    pub fn put_reply(&mut self, reply: &[u8]) -> bool {
        if reply.len() > REPLY_BYTES {
            return false;
        }
        // SAFETY: inside the reply part of the mapping, which is the worker's until it replies.
        unsafe {
            std::ptr::copy_nonoverlapping(reply.as_ptr(), self.base.add(REQUEST_BYTES), reply.len())
        };
        true
    }

    /// Daemon: copies the reply (`len` bytes, checked against the reply part) into `out`.
    pub fn take_reply(&self, len: usize, out: &mut Vec<u8>) -> bool {
        if len > REPLY_BYTES {
            return false;
        }
        out.clear();
        out.reserve(len);
        // SAFETY: `len` bytes inside the reply part copied into `out`'s spare capacity, then
        // made its length. The source is only read through this raw copy (never a reference),
        // so a worker still writing there changes the bytes copied, nothing else.
        unsafe {
            std::ptr::copy_nonoverlapping(self.base.add(REQUEST_BYTES), out.as_mut_ptr(), len);
            out.set_len(len);
        }
        true
    }
}

impl Drop for Area {
    fn drop(&mut self) {
        // SAFETY: unmapping what `map` mapped; not used after this.
        unsafe { libc::munmap(self.base.cast(), BYTES) };
    }
}

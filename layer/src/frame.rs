//! Frames written in place: [`begin`] reserves a frame's largest size once and writes its
//! header and head items through a [`Cursor`] (unchecked stores, sizes counted up front with
//! [`str_max`]); fields may follow through the field writer; [`finish`] patches the length.
//! The bytes are those of `kpid_wire::FrameWriter`, without a bounds check per item.

pub(crate) use crate::out::str_max;
use crate::out::{copy, string, varint};
use kpid_wire as wire;

/// Writes through a pointer with no bounds checks: whoever made it granted room for every
/// item written (count it with [`str_max`] and friends).
pub(crate) struct Cursor {
    p: *mut u8,
    n: usize,
}

impl Cursor {
    /// # Safety
    /// The cursor's room was granted for this byte.
    #[inline(always)]
    pub(crate) unsafe fn u8(&mut self, b: u8) -> &mut Self {
        // SAFETY: the caller's.
        unsafe { *self.p.add(self.n) = b };
        self.n += 1;
        self
    }
    /// # Safety
    /// The cursor's room was granted for 10 more bytes.
    #[inline(always)]
    pub(crate) unsafe fn varint(&mut self, v: u64) -> &mut Self {
        // SAFETY: the caller's.
        self.n += unsafe { varint(self.p.add(self.n), v) };
        self
    }
    /// # Safety
    /// The cursor's room was granted for `str_max(s)` more bytes.
    #[inline(always)]
    pub(crate) unsafe fn str(&mut self, s: &str) -> &mut Self {
        // SAFETY: the caller's.
        self.n += unsafe { string(self.p.add(self.n), s) };
        self
    }
    /// # Safety
    /// The cursor's room was granted for `b.len()` more bytes.
    #[inline(always)]
    pub(crate) unsafe fn bytes(&mut self, b: &[u8]) -> &mut Self {
        // SAFETY: the caller's.
        unsafe { copy(b, self.p.add(self.n)) };
        self.n += b.len();
        self
    }
}

/// Appends the start of a frame of type `ty` to `buf`: its header, then what `head` writes
/// through a cursor granted `max` bytes. Returns where the frame starts, for [`finish`]
/// (items may be appended to `buf` in between).
///
/// # Safety
/// `head` writes at most `max` bytes.
#[inline(always)]
pub(crate) unsafe fn begin(
    buf: &mut Vec<u8>,
    ty: wire::FrameType,
    max: usize,
    head: impl FnOnce(&mut Cursor),
) -> usize {
    let start = buf.len();
    buf.reserve(wire::HEADER_LEN + max);
    let mut c = Cursor {
        p: buf.spare_capacity_mut().as_mut_ptr().cast(),
        n: wire::HEADER_LEN,
    };
    // SAFETY: `reserve` granted the header and `max` bytes; the length is patched by
    // `finish`.
    unsafe {
        c.p.cast::<[u8; 5]>().write([0, 0, 0, 0, ty as u8]);
        head(&mut c);
        buf.set_len(start + c.n);
    }
    start
}

/// Patches the length of the frame that starts at `start` (made by [`begin`]).
#[inline(always)]
pub(crate) fn finish(buf: &mut [u8], start: usize) {
    let len = (buf.len() - start - 4) as u32;
    buf[start..start + 4].copy_from_slice(&len.to_le_bytes());
}

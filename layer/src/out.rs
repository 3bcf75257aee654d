//! Where encoded fields are written: a growable `Vec` (the queue's buffer) or a fixed area
//! (an open span's fields), and the raw writers that put one field there with a single
//! bounds check, byte for byte as `kpid_wire::put_field` does.

use kpid_wire::{self as wire, Value};
use std::mem::MaybeUninit;

/// Where encoded fields go: a growable `Vec` or a fixed area.
pub(crate) trait Out {
    fn len(&self) -> usize;
    fn truncate(&mut self, n: usize);
    /// A pointer to `n` writable bytes at the end, or None when they do not fit.
    fn room(&mut self, n: usize) -> Option<*mut u8>;
    /// Marks `n` bytes written at the pointer `room` gave as used.
    ///
    /// # Safety
    /// They were written, and `room` granted at least `n`.
    unsafe fn advance(&mut self, n: usize);
    /// Overwrites the two written bytes at `at`.
    fn patch2(&mut self, at: usize, b: [u8; 2]);
    /// Appends `b`; false (nothing appended) when it does not fit.
    #[inline]
    fn extend(&mut self, b: &[u8]) -> bool {
        match self.room(b.len()) {
            Some(p) => {
                // SAFETY: `room` granted `b.len()` bytes at `p`.
                unsafe {
                    std::ptr::copy_nonoverlapping(b.as_ptr(), p, b.len());
                    self.advance(b.len());
                }
                true
            }
            None => false,
        }
    }
}

impl Out for Vec<u8> {
    #[inline]
    fn len(&self) -> usize {
        Vec::len(self)
    }
    #[inline]
    fn truncate(&mut self, n: usize) {
        Vec::truncate(self, n)
    }
    #[inline]
    fn room(&mut self, n: usize) -> Option<*mut u8> {
        self.reserve(n);
        Some(self.spare_capacity_mut().as_mut_ptr().cast())
    }
    #[inline]
    unsafe fn advance(&mut self, n: usize) {
        // SAFETY: the caller's; `room` reserved the bytes.
        unsafe { self.set_len(Vec::len(self) + n) }
    }
    #[inline]
    fn patch2(&mut self, at: usize, b: [u8; 2]) {
        self[at..at + 2].copy_from_slice(&b);
    }
}

/// A fixed area whose first `len` bytes are used (an open span's fields).
pub(crate) struct Fixed<'a> {
    pub(crate) buf: &'a mut [MaybeUninit<u8>],
    pub(crate) len: usize,
}

impl Out for Fixed<'_> {
    #[inline]
    fn len(&self) -> usize {
        self.len
    }
    #[inline]
    fn truncate(&mut self, n: usize) {
        self.len = self.len.min(n);
    }
    #[inline]
    fn room(&mut self, n: usize) -> Option<*mut u8> {
        if n <= self.buf.len() - self.len {
            // SAFETY: `len` is within the area.
            Some(unsafe { self.buf.as_mut_ptr().add(self.len).cast() })
        } else {
            None
        }
    }
    #[inline]
    unsafe fn advance(&mut self, n: usize) {
        self.len += n;
    }
    #[inline]
    fn patch2(&mut self, at: usize, b: [u8; 2]) {
        assert!(at + 2 <= self.len);
        self.buf[at].write(b[0]);
        self.buf[at + 1].write(b[1]);
    }
}

/// The most bytes a clipped string takes (its length in at most 2 bytes: MAX_STR_LEN < 2^14).
#[inline(always)]
pub(crate) fn str_max(s: &str) -> usize {
    2 + s.len().min(wire::MAX_STR_LEN)
}

/// The most bytes `put_field(key, v)` writes.
#[inline]
pub(crate) fn max_len(key: &str, v: &Value<'_>) -> usize {
    str_max(key)
        + 1
        + match v {
            Value::I64(_) | Value::U64(_) => 10,
            Value::F64(_) => 8,
            Value::Bool(_) => 1,
            Value::Str(x) => str_max(x),
        }
}

/// Copies `b` to `p`: up to 64 bytes inline (two overlapping loads and stores of the widest
/// size that fits, or four of 16 bytes), without a call to `memcpy`.
#[inline(always)]
pub(crate) unsafe fn copy(b: &[u8], p: *mut u8) {
    let (s, n) = (b.as_ptr(), b.len());
    // SAFETY (whole function): the caller grants `n` bytes at `p`.
    unsafe {
        use std::ptr::{read_unaligned as rd, write_unaligned as wr};
        if n > 64 {
            std::ptr::copy_nonoverlapping(s, p, n);
        } else if n > 32 {
            let (a, b) = (rd(s.cast::<u128>()), rd(s.add(16).cast::<u128>()));
            let (y, z) = (
                rd(s.add(n - 32).cast::<u128>()),
                rd(s.add(n - 16).cast::<u128>()),
            );
            wr(p.cast::<u128>(), a);
            wr(p.add(16).cast::<u128>(), b);
            wr(p.add(n - 32).cast::<u128>(), y);
            wr(p.add(n - 16).cast::<u128>(), z);
        } else if n >= 16 {
            let (a, z) = (rd(s.cast::<u128>()), rd(s.add(n - 16).cast::<u128>()));
            wr(p.cast::<u128>(), a);
            wr(p.add(n - 16).cast::<u128>(), z);
        } else if n >= 8 {
            let (a, z) = (rd(s.cast::<u64>()), rd(s.add(n - 8).cast::<u64>()));
            wr(p.cast::<u64>(), a);
            wr(p.add(n - 8).cast::<u64>(), z);
        } else if n >= 4 {
            let (a, z) = (rd(s.cast::<u32>()), rd(s.add(n - 4).cast::<u32>()));
            wr(p.cast::<u32>(), a);
            wr(p.add(n - 4).cast::<u32>(), z);
        } else {
            for i in 0..n {
                *p.add(i) = *s.add(i);
            }
        }
    }
}

/// Writes a varint at `p`; returns its length. Values under 128 take one store; larger
/// ones (timestamps: 9 bytes) are spread 7 bits a byte without a loop and written 8 bytes
/// at once.
#[inline(always)]
pub(crate) unsafe fn varint(p: *mut u8, v: u64) -> usize {
    // SAFETY (whole function): the caller grants 10 bytes.
    unsafe {
        if v < 0x80 {
            *p = v as u8;
            return 1;
        }
        let mut y = 0u64;
        for i in 0..8 {
            y |= ((v >> (7 * i)) & 0x7f) << (8 * i);
        }
        let n = (64 - v.leading_zeros() as usize).div_ceil(7);
        if n <= 8 {
            // A continuation bit on every byte but the last.
            let more = 0x8080_8080_8080_8080u64 >> (8 * (9 - n));
            p.cast::<u64>().write_unaligned((y | more).to_le());
            return n;
        }
        p.cast::<u64>()
            .write_unaligned((y | 0x8080_8080_8080_8080).to_le());
        let rest = v >> 56;
        if rest < 0x80 {
            *p.add(8) = rest as u8;
            9
        } else {
            *p.add(8) = rest as u8 | 0x80;
            *p.add(9) = (rest >> 7) as u8;
            10
        }
    }
}

const _: () = assert!(
    wire::MAX_STR_LEN < 1 << 14,
    "str_len writes at most 2 bytes"
);

/// Writes a string's length (clipped: under 2^14, so at most 2 bytes); returns its size.
#[inline(always)]
unsafe fn str_len(p: *mut u8, n: usize) -> usize {
    // SAFETY (whole function): the caller grants 2 bytes.
    unsafe {
        if n < 0x80 {
            *p = n as u8;
            1
        } else {
            *p = n as u8 | 0x80;
            *p.add(1) = (n >> 7) as u8;
            2
        }
    }
}

/// Writes a clipped string at `p`; returns its length.
#[inline(always)]
pub(crate) unsafe fn string(p: *mut u8, s: &str) -> usize {
    let s = wire::clip(s);
    // SAFETY: the caller grants `2 + s.len()` bytes.
    unsafe {
        let n = str_len(p, s.len());
        copy(s.as_bytes(), p.add(n));
        n + s.len()
    }
}

/// Writes the field at `p` exactly as `wire::put_field` does; returns its length.
#[inline(always)]
pub(crate) unsafe fn field(p: *mut u8, key: &str, v: Value<'_>) -> usize {
    // SAFETY (whole function): the caller grants `max_len(key, &v)` bytes.
    unsafe {
        let mut n = string(p, key);
        let q = p.add(n + 1);
        n += 1 + match v {
            Value::I64(x) => {
                *p.add(n) = 0;
                varint(q, ((x << 1) ^ (x >> 63)) as u64)
            }
            Value::U64(x) => {
                *p.add(n) = 1;
                varint(q, x)
            }
            Value::F64(x) => {
                *p.add(n) = 2;
                std::ptr::copy_nonoverlapping(x.to_le_bytes().as_ptr(), q, 8);
                8
            }
            Value::Bool(x) => {
                *p.add(n) = 3;
                *q = x as u8;
                1
            }
            Value::Str(s) => {
                *p.add(n) = 4;
                string(q, s)
            }
        };
        n
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varint_is_byte_for_byte_the_wire_one() {
        let mut vals = vec![0, 1, u64::MAX, 1_790_000_000_123_456_789];
        for b in 0..64 {
            vals.extend([(1u64 << b) - 1, 1 << b, (1 << b) + 1]);
        }
        for v in vals {
            let mut want = Vec::new();
            wire::put_varint(&mut want, v);
            let mut got = [0xAAu8; 10];
            // SAFETY: 10 bytes.
            let n = unsafe { varint(got.as_mut_ptr(), v) };
            assert_eq!(&got[..n], &want[..], "varint {v}");
        }
    }
}

//! Bit streams and the two Gorilla encoders the chunks are made of: delta-of-delta
//! timestamps (`TimeEnc`) and XOR-compressed floats (`XorEnc`). Every reader returns
//! `None` past the end of its bytes, so a damaged chunk is an error, never a panic.

/// Writes bits, most significant first.
#[derive(Debug, Default)]
pub(crate) struct BitWriter {
    pub(crate) bytes: Vec<u8>,
    used: u8,
}

impl BitWriter {
    pub(crate) fn bit(&mut self, b: bool) {
        if self.used == 0 {
            self.bytes.push(0);
        }
        if b {
            *self.bytes.last_mut().expect("a byte") |= 0x80 >> self.used;
        }
        self.used = (self.used + 1) % 8;
    }

    /// The low `n` bits of `v` (n <= 64): the rest of the last byte, then whole bytes.
    pub(crate) fn bits(&mut self, v: u64, n: u32) {
        if n == 0 {
            return;
        }
        let v = if n < 64 { v & ((1u64 << n) - 1) } else { v };
        let mut n = n;
        if self.used != 0 {
            let free = 8 - self.used as u32;
            let last = self.bytes.last_mut().expect("a byte");
            if n <= free {
                *last |= (v << (free - n)) as u8;
                self.used = ((self.used as u32 + n) % 8) as u8;
                return;
            }
            n -= free;
            *last |= (v >> n) as u8;
        }
        while n >= 8 {
            n -= 8;
            self.bytes.push((v >> n) as u8);
        }
        if n > 0 {
            self.bytes.push((v << (8 - n)) as u8);
        }
        self.used = n as u8;
    }

    /// Whole bytes, each as [`BitWriter::bits`] with 8 would write it (a sketch's bytes),
    /// without going bit group by bit group.
    pub(crate) fn bytes8(&mut self, src: &[u8]) {
        if self.used == 0 {
            self.bytes.extend_from_slice(src);
            return;
        }
        let u = self.used;
        self.bytes.reserve(src.len());
        for &b in src {
            *self.bytes.last_mut().expect("a byte") |= b >> u;
            self.bytes.push(b << (8 - u));
        }
    }

    /// A varint-like count: 1 bit for 1, else 7-bit groups.
    pub(crate) fn count(&mut self, v: u64) {
        if v == 1 {
            self.bit(false);
            return;
        }
        self.bit(true);
        let mut v = v;
        loop {
            let more = v >= 0x80;
            self.bits(v & 0x7f, 7);
            self.bit(more);
            v >>= 7;
            if !more {
                return;
            }
        }
    }
}

/// Reads what a [`BitWriter`] wrote.
#[derive(Debug)]
pub(crate) struct BitReader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> BitReader<'a> {
    pub(crate) fn new(bytes: &'a [u8]) -> Self {
        BitReader { bytes, pos: 0 }
    }

    pub(crate) fn bit(&mut self) -> Option<bool> {
        let byte = *self.bytes.get(self.pos / 8)?;
        let b = byte & (0x80 >> (self.pos % 8)) != 0;
        self.pos += 1;
        Some(b)
    }

    pub(crate) fn bits(&mut self, n: u32) -> Option<u64> {
        if self.pos + n as usize > self.bytes.len() * 8 {
            return None;
        }
        let mut v = 0u64;
        let mut n = n;
        while n > 0 {
            let byte = self.bytes[self.pos / 8];
            let off = (self.pos % 8) as u32;
            let take = (8 - off).min(n);
            let chunk = (byte >> (8 - off - take)) & ((1u16 << take) - 1) as u8;
            v = (v << take) | chunk as u64;
            self.pos += take as usize;
            n -= take;
        }
        Some(v)
    }

    pub(crate) fn count(&mut self) -> Option<u64> {
        if !self.bit()? {
            return Some(1);
        }
        let mut v = 0u64;
        for shift in (0..64).step_by(7) {
            v |= self.bits(7)?.checked_shl(shift)?;
            if !self.bit()? {
                return Some(v);
            }
        }
        None
    }
}

/// Delta-of-delta timestamps, in units of the tier's resolution.
#[derive(Debug, Default)]
pub(crate) struct TimeEnc {
    prev: i64,
    delta: i64,
}

fn zz(v: i64) -> u64 {
    ((v << 1) ^ (v >> 63)) as u64
}

fn unzz(v: u64) -> i64 {
    ((v >> 1) as i64) ^ -((v & 1) as i64)
}

impl TimeEnc {
    /// Starts after the first time `t`, expecting points `delta` apart.
    pub(crate) fn start(t: i64, delta: i64) -> Self {
        TimeEnc { prev: t, delta }
    }

    pub(crate) fn put(&mut self, w: &mut BitWriter, t: i64) {
        let delta = t.wrapping_sub(self.prev);
        let z = zz(delta.wrapping_sub(self.delta));
        self.prev = t;
        self.delta = delta;
        match z {
            0 => w.bit(false),
            _ if z < 1 << 7 => {
                w.bits(0b10, 2);
                w.bits(z, 7);
            }
            _ if z < 1 << 12 => {
                w.bits(0b110, 3);
                w.bits(z, 12);
            }
            _ if z < 1 << 20 => {
                w.bits(0b1110, 4);
                w.bits(z, 20);
            }
            _ => {
                w.bits(0b1111, 4);
                w.bits(z, 64);
            }
        }
    }

    pub(crate) fn get(&mut self, r: &mut BitReader) -> Option<i64> {
        let z = if !r.bit()? {
            0
        } else if !r.bit()? {
            r.bits(7)?
        } else if !r.bit()? {
            r.bits(12)?
        } else if !r.bit()? {
            r.bits(20)?
        } else {
            r.bits(64)?
        };
        self.delta = self.delta.wrapping_add(unzz(z));
        self.prev = self.prev.wrapping_add(self.delta);
        Some(self.prev)
    }
}

/// XOR-compressed floats (Gorilla): each value as its XOR with the previous one, reusing the
/// previous window of meaningful bits when it fits. Bit-exact: NaN payloads and infinities
/// come back as they went in.
#[derive(Debug, Default)]
pub(crate) struct XorEnc {
    prev: u64,
    lead: u32,
    trail: u32,
    /// Whether a window was written yet (only then may it be reused).
    window: bool,
}

impl XorEnc {
    pub(crate) fn put(&mut self, w: &mut BitWriter, v: f64) {
        let bits = v.to_bits();
        let x = bits ^ self.prev;
        self.prev = bits;
        if x == 0 {
            w.bit(false);
            return;
        }
        w.bit(true);
        let lead = x.leading_zeros().min(31);
        let trail = x.trailing_zeros();
        // Reuse the window when it fits and wastes little (a new one costs 11 bits).
        let fits = self.window && lead >= self.lead && trail >= self.trail;
        if fits && (lead - self.lead) + (trail - self.trail) <= 11 {
            w.bit(false);
            w.bits(x >> self.trail, 64 - self.lead - self.trail);
            return;
        }
        w.bit(true);
        let len = 64 - lead - trail;
        w.bits(lead as u64, 5);
        w.bits((len - 1) as u64, 6);
        w.bits(x >> trail, len);
        self.lead = lead;
        self.trail = trail;
        self.window = true;
    }

    pub(crate) fn get(&mut self, r: &mut BitReader) -> Option<f64> {
        if r.bit()? {
            if r.bit()? {
                let lead = r.bits(5)? as u32;
                let len = r.bits(6)? as u32 + 1;
                if lead + len > 64 {
                    return None;
                }
                self.lead = lead;
                self.trail = 64 - lead - len;
                self.window = true;
            } else if !self.window {
                return None;
            }
            let len = 64 - self.lead - self.trail;
            self.prev ^= r.bits(len)? << self.trail;
        }
        Some(f64::from_bits(self.prev))
    }
}

/// Values that are decimals with at most `scale` digits after the point, encoded as the
/// difference of consecutive integers `v × 10^scale` (zigzag) in 1, 6, 11, 20 or 68 bits:
/// integer gauges moving by small steps cost a few bits where XOR costs tens.
#[derive(Debug)]
pub(crate) struct DecEnc {
    pow: f64,
    prev: i64,
}

/// Largest integer a decimal may scale to (exact in an f64).
const DEC_MAX: f64 = (1u64 << 53) as f64;

impl DecEnc {
    pub(crate) fn new(scale: u8) -> Self {
        DecEnc {
            pow: 10f64.powi(scale as i32),
            prev: 0,
        }
    }

    /// The integer `v` scales to, if decoding it gives back exactly `v` (so NaN, infinities,
    /// -0.0 and values with more digits have none).
    pub(crate) fn scaled(&self, v: f64) -> Option<i64> {
        let n = (v * self.pow).round();
        if n.is_nan() || n.abs() >= DEC_MAX {
            return None;
        }
        // Checked from the integer, as the decoder computes it (-0.0 scales to 0, which is
        // not -0.0).
        let i = n as i64;
        ((i as f64 / self.pow).to_bits() == v.to_bits()).then_some(i)
    }

    /// The fewest digits (0 to 6) after the point that every value of `vs` fits in.
    pub(crate) fn scale_for(vs: impl Iterator<Item = f64> + Clone) -> Option<u8> {
        (0..=6u8).find(|&k| {
            let e = DecEnc::new(k);
            vs.clone().all(|v| e.scaled(v).is_some())
        })
    }

    /// Writes `v`, which [`DecEnc::scaled`] accepts.
    pub(crate) fn put(&mut self, w: &mut BitWriter, v: f64) {
        let n = self.scaled(v).expect("checked by scale_for");
        let d = n.wrapping_sub(self.prev);
        self.prev = n;
        let z = ((d << 1) ^ (d >> 63)) as u64;
        match z {
            0 => w.bit(false),
            1..=0xf => {
                w.bits(0b10, 2);
                w.bits(z, 4);
            }
            0x10..=0xff => {
                w.bits(0b110, 3);
                w.bits(z, 8);
            }
            0x100..=0xffff => {
                w.bits(0b1110, 4);
                w.bits(z, 16);
            }
            _ => {
                w.bits(0b1111, 4);
                w.bits(z, 64);
            }
        }
    }

    pub(crate) fn get(&mut self, r: &mut BitReader) -> Option<f64> {
        let mut ones = 0;
        while ones < 4 && r.bit()? {
            ones += 1;
        }
        let z = match ones {
            0 => 0,
            1 => r.bits(4)?,
            2 => r.bits(8)?,
            3 => r.bits(16)?,
            _ => r.bits(64)?,
        };
        let d = ((z >> 1) as i64) ^ -((z & 1) as i64);
        self.prev = self.prev.wrapping_add(d);
        Some(self.prev as f64 / self.pow)
    }
}

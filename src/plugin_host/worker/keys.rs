//! Keys a plugin reports from its own memory (string literals, mostly). The worker gives each
//! key in the plugin's read-only data a small id and sends its bytes once ([`KeyIds`]); the
//! daemon interns them per parser ([`Keys`]), so that decoding a record allocates nothing and
//! compares no key bytes per line.

use rustc_hash::FxHashMap;
use std::borrow::Cow;

/// Most keys interned per parser.
const MAX_INTERNED: usize = 1024;

/// Keys the plugin reports from its own memory, interned: by field position first (a plugin
/// reports the same keys in the same order line after line), then by value.
#[derive(Debug, Default)]
pub(super) struct Keys {
    by_position: Vec<&'static [u8]>,
    all: FxHashMap<Box<[u8]>, &'static [u8]>,
}

impl Keys {
    /// The interned copy of `k` (owned when MAX_INTERNED keys are interned already).
    pub(super) fn intern(&mut self, k: &[u8]) -> Cow<'static, [u8]> {
        match self.all.get(k) {
            Some(s) => Cow::Borrowed(*s),
            None if self.all.len() >= MAX_INTERNED => Cow::Owned(k.to_vec()),
            None => {
                // Bounded: at most MAX_INTERNED keys of at most max_key_bytes each, per parser.
                let s: &'static [u8] = Box::leak(k.to_vec().into_boxed_slice());
                self.all.insert(k.into(), s);
                Cow::Borrowed(s)
            }
        }
    }

    pub(super) fn get(&mut self, i: usize, k: &[u8]) -> Cow<'static, [u8]> {
        if let Some(s) = self.by_position.get(i) {
            if *s == k {
                return Cow::Borrowed(s);
            }
        }
        let s = match self.intern(k) {
            Cow::Borrowed(s) => s,
            owned => return owned,
        };
        if i < self.by_position.len() {
            self.by_position[i] = s;
        } else if i == self.by_position.len() && i < 256 {
            self.by_position.push(s);
        }
        Cow::Borrowed(s)
    }
}

/// Worker side: ids of the keys found in the plugin's read-only data (immutable, so the same
/// address and length is the same key for the worker's life), by field position first, then
/// by address; and the definitions of new ids to send with the current reply.
#[derive(Debug, Default)]
pub(super) struct KeyIds {
    by_position: Vec<(usize, usize, u16)>,
    all: FxHashMap<(usize, usize), u16>,
    new: Vec<u8>,
    new_count: u16,
}

impl KeyIds {
    /// The id of the key at (p, n) reported as field `i`, if it has one.
    #[inline(always)]
    pub(super) fn find(&mut self, p: usize, n: usize, i: usize) -> Option<u16> {
        if let Some(&(kp, kn, id)) = self.by_position.get(i) {
            if kp == p && kn == n {
                return Some(id);
            }
        }
        let id = *self.all.get(&(p, n))?;
        self.remember(p, n, i, id);
        Some(id)
    }

    fn remember(&mut self, p: usize, n: usize, i: usize, id: u16) {
        if i < self.by_position.len() {
            self.by_position[i] = (p, n, id);
        } else if i == self.by_position.len() && i < 256 {
            self.by_position.push((p, n, id));
        }
    }

    /// Gives the read-only key `bytes` (at address `p`) an id, to be sent with this reply;
    /// `None` when MAX_KEY_IDS are given.
    pub(super) fn define(&mut self, p: usize, bytes: &[u8], i: usize) -> Option<u16> {
        let id = self.all.len();
        if id >= super::proto::MAX_KEY_IDS || bytes.len() > u16::MAX as usize {
            return None;
        }
        let id = id as u16;
        self.all.insert((p, bytes.len()), id);
        self.remember(p, bytes.len(), i, id);
        self.new
            .extend_from_slice(&(bytes.len() as u16).to_le_bytes());
        self.new.extend_from_slice(bytes);
        self.new_count += 1;
        Some(id)
    }

    /// Appends the definitions made since the last call (`u16 count`, each `u16 length,
    /// bytes`) to a reply.
    pub(super) fn flush(&mut self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.new_count.to_le_bytes());
        out.extend_from_slice(&self.new);
        self.new.clear();
        self.new_count = 0;
    }
}

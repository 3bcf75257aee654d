//! Keys a plugin reports from its own memory (string literals, mostly), interned per parser so
//! that decoding a record allocates nothing per line.

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
    pub(super) fn get(&mut self, i: usize, k: &[u8]) -> Cow<'static, [u8]> {
        if let Some(s) = self.by_position.get(i) {
            if *s == k {
                return Cow::Borrowed(s);
            }
        }
        let s = match self.all.get(k) {
            Some(s) => *s,
            None if self.all.len() >= MAX_INTERNED => return Cow::Owned(k.to_vec()),
            None => {
                // Bounded: at most MAX_INTERNED keys of at most max_key_bytes each, per parser.
                let s: &'static [u8] = Box::leak(k.to_vec().into_boxed_slice());
                self.all.insert(k.into(), s);
                s
            }
        };
        if i < self.by_position.len() {
            self.by_position[i] = s;
        } else if i == self.by_position.len() && i < 256 {
            self.by_position.push(s);
        }
        Cow::Borrowed(s)
    }
}

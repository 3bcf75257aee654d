//! A fast path for the `regex` parser: anchored patterns made of literals and byte-class
//! runs separated by delimiters, such as web-server access-log patterns.
//!
//! The pattern is parsed with `regex-syntax` (same flags as the regex the parser also
//! compiles) and accepted only when a single left-to-right pass gives exactly the regex
//! crate's leftmost-first match:
//!
//! - it starts with `^` (or `\A`) and may end with `$` (or `\z`); no other assertions;
//! - it is a sequence of literals, byte classes repeated `{min,max}` (`\S+`, `[^"]*`,
//!   `\d{3}`), groups (named or not) of such sequences, and alternations whose branches are a
//!   single literal or non-empty class run, starting with pairwise distinct bytes
//!   (`(\d+|-)`);
//! - every run whose length can vary is followed by something that cannot start with a byte
//!   of its class (`\S+ `, `[^\]]+\]`), so the longest run is the only one that can work.
//!
//! Under those rules no backtracking can change the outcome, so a run is a tight table (or
//! `memchr`) scan and a literal a slice comparison. Anything else (unanchored patterns,
//! optional groups, Unicode classes, lookarounds) uses the regex crate. The parser's tests
//! check this matcher against the regex crate on random and mutated lines.

use regex_syntax::hir::{Class, Hir, HirKind, Look};

#[derive(Debug, Clone)]
enum Atom {
    Lit(Box<[u8]>),
    Run(Run),
    /// Branches are `Lit` or non-empty `Run`s with distinct first bytes.
    Alt(Vec<Atom>),
    Open(usize),
    Close(usize),
    End,
}

#[derive(Debug, Clone)]
struct Run {
    set: Box<[bool; 256]>,
    min: usize,
    max: usize,
    /// When the class is "anything but these 1-3 bytes" and the run is unbounded.
    until: Option<Vec<u8>>,
}

/// A compiled delimited pattern. Slots are `2 * group` (start) and `2 * group + 1` (end).
#[derive(Debug, Clone)]
pub(crate) struct Delimited {
    atoms: Vec<Atom>,
    slots: usize,
}

impl Delimited {
    /// The fast matcher for `hir`, if the pattern qualifies (see the module docs).
    pub(crate) fn new(hir: &Hir, groups: usize) -> Option<Delimited> {
        let HirKind::Concat(items) = hir.kind() else {
            return None;
        };
        let (first, rest) = items.split_first()?;
        if !matches!(first.kind(), HirKind::Look(Look::Start)) {
            return None;
        }
        let mut atoms = Vec::new();
        for (i, h) in rest.iter().enumerate() {
            if i + 1 == rest.len() && matches!(h.kind(), HirKind::Look(Look::End)) {
                atoms.push(Atom::End);
            } else {
                flatten(h, &mut atoms)?;
            }
        }
        let d = Delimited {
            atoms,
            slots: groups * 2,
        };
        d.deterministic().then_some(d)
    }

    /// Number of slots [`Delimited::matches`] fills.
    pub(crate) fn slot_len(&self) -> usize {
        self.slots
    }

    /// Matches `line` from its start, filling `slots` (group 0 included).
    #[inline]
    pub(crate) fn matches(&self, line: &[u8], slots: &mut [usize]) -> bool {
        let mut pos = 0;
        for atom in &self.atoms {
            match atom {
                Atom::Lit(l) => {
                    if !lit_at(line, pos, l) {
                        return false;
                    }
                    pos += l.len();
                }
                Atom::Run(r) => match r.scan(line, pos) {
                    Some(p) => pos = p,
                    None => return false,
                },
                Atom::Alt(branches) => {
                    let Some(&b) = line.get(pos) else {
                        return false;
                    };
                    let next = branches.iter().find_map(|br| match br {
                        Atom::Lit(l) if l[0] == b => lit_at(line, pos, l).then_some(pos + l.len()),
                        Atom::Run(r) if r.set[usize::from(b)] => r.scan(line, pos),
                        _ => None,
                    });
                    match next {
                        Some(p) => pos = p,
                        None => return false,
                    }
                }
                Atom::Open(s) | Atom::Close(s) => slots[*s] = pos,
                Atom::End => {
                    if pos != line.len() {
                        return false;
                    }
                }
            }
        }
        slots[0] = 0;
        slots[1] = pos;
        true
    }

    /// Checks that the single pass is exact: varying runs never overlap what follows them,
    /// alternation branches start with distinct bytes.
    fn deterministic(&self) -> bool {
        for (i, atom) in self.atoms.iter().enumerate() {
            let follow = self.follow(i);
            let run_ok =
                |r: &Run| r.min == r.max || r.set.iter().zip(&follow).all(|(a, b)| !(*a && *b));
            match atom {
                Atom::Run(r) if !run_ok(r) => return false,
                Atom::Alt(branches) => {
                    let mut seen = [false; 256];
                    for br in branches {
                        let first = first_set(br);
                        if first.iter().zip(&seen).any(|(a, b)| *a && *b) {
                            return false;
                        }
                        for (s, f) in seen.iter_mut().zip(first) {
                            *s |= f;
                        }
                        if let Atom::Run(r) = br {
                            if r.min == 0 || !run_ok(r) {
                                return false;
                            }
                        }
                    }
                }
                _ => {}
            }
        }
        true
    }

    /// Bytes that can come right after atom `i`.
    fn follow(&self, i: usize) -> [bool; 256] {
        let mut out = [false; 256];
        for atom in &self.atoms[i + 1..] {
            match atom {
                Atom::Open(_) | Atom::Close(_) => continue,
                Atom::End => break,
                _ => {}
            }
            for (o, f) in out.iter_mut().zip(first_set(atom)) {
                *o |= f;
            }
            if !matches!(atom, Atom::Run(r) if r.min == 0) {
                break;
            }
        }
        out
    }
}

impl Run {
    #[inline]
    fn scan(&self, line: &[u8], pos: usize) -> Option<usize> {
        let end = match &self.until {
            Some(stop) => {
                let rest = &line[pos..];
                let found = match stop.as_slice() {
                    [a] => memchr::memchr(*a, rest),
                    [a, b] => memchr::memchr2(*a, *b, rest),
                    [a, b, c] => memchr::memchr3(*a, *b, *c, rest),
                    _ => unreachable!("until holds 1 to 3 bytes"),
                };
                pos + found.unwrap_or(rest.len())
            }
            None => {
                let lim = line.len().min(pos.saturating_add(self.max));
                let mut p = pos;
                while p < lim && self.set[usize::from(line[p])] {
                    p += 1;
                }
                p
            }
        };
        (end - pos >= self.min).then_some(end)
    }
}

/// `line[pos..].starts_with(lit)`, without a `memcmp` call for the usual short delimiters.
#[inline]
fn lit_at(line: &[u8], pos: usize, lit: &[u8]) -> bool {
    match line.get(pos..pos + lit.len()) {
        Some(s) if lit.len() <= 8 => s.iter().zip(lit).all(|(a, b)| a == b),
        Some(s) => s == lit,
        None => false,
    }
}

fn first_set(atom: &Atom) -> [bool; 256] {
    let mut out = [false; 256];
    match atom {
        Atom::Lit(l) => out[usize::from(l[0])] = true,
        Atom::Run(r) => out = *r.set,
        Atom::Alt(bs) => {
            for b in bs {
                for (o, f) in out.iter_mut().zip(first_set(b)) {
                    *o |= f;
                }
            }
        }
        Atom::Open(_) | Atom::Close(_) | Atom::End => {}
    }
    out
}

fn flatten(h: &Hir, out: &mut Vec<Atom>) -> Option<()> {
    match h.kind() {
        HirKind::Empty => {}
        HirKind::Literal(l) => out.push(Atom::Lit(l.0.clone())),
        HirKind::Class(_) | HirKind::Repetition(_) => out.push(Atom::Run(run(h)?)),
        HirKind::Capture(c) => {
            let g = c.index as usize;
            out.push(Atom::Open(2 * g));
            flatten(&c.sub, out)?;
            out.push(Atom::Close(2 * g + 1));
        }
        HirKind::Concat(items) => {
            for item in items {
                flatten(item, out)?;
            }
        }
        HirKind::Alternation(branches) => {
            let mut alt = Vec::with_capacity(branches.len());
            for b in branches {
                alt.push(match b.kind() {
                    HirKind::Literal(l) => Atom::Lit(l.0.clone()),
                    _ => Atom::Run(run(b)?),
                });
            }
            out.push(Atom::Alt(alt));
        }
        HirKind::Look(_) => return None,
    }
    Some(())
}

/// A class (or single byte) repeated `{min,max}`.
fn run(h: &Hir) -> Option<Run> {
    let (sub, min, max) = match h.kind() {
        HirKind::Repetition(r) => (&*r.sub, r.min, r.max.unwrap_or(u32::MAX)),
        _ => (h, 1, 1),
    };
    let mut set = Box::new([false; 256]);
    match sub.kind() {
        HirKind::Class(Class::Bytes(c)) => {
            for r in c.ranges() {
                for b in r.start()..=r.end() {
                    set[usize::from(b)] = true;
                }
            }
        }
        HirKind::Class(Class::Unicode(c)) => {
            for r in c.ranges() {
                if u32::from(r.end()) > 0x7F {
                    return None;
                }
                for b in u32::from(r.start())..=u32::from(r.end()) {
                    set[b as usize] = true;
                }
            }
        }
        HirKind::Literal(l) if l.0.len() == 1 => set[usize::from(l.0[0])] = true,
        _ => return None,
    }
    let excluded: Vec<u8> = (0..=255u8).filter(|b| !set[usize::from(*b)]).collect();
    let max = if max == u32::MAX {
        usize::MAX
    } else {
        max as usize
    };
    let until = (max == usize::MAX && (1..=3).contains(&excluded.len())).then_some(excluded);
    Some(Run {
        set,
        min: min as usize,
        max,
        until,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use regex::bytes::RegexBuilder;

    const APACHE: &str = r#"^(?P<host>\S+) \S+ (?P<user>\S+) \[(?P<time>[^\]]+)\] "(?P<method>[A-Z]+) (?P<path>\S+) (?P<proto>[^"]*)" (?P<status>\d{3}) (?P<bytes>\d+|-) "[^"]*" "[^"]*" (?P<duration_us>\d+)$"#;

    fn compile(p: &str) -> Option<Delimited> {
        let hir = regex_syntax::ParserBuilder::new()
            .unicode(false)
            .utf8(false)
            .build()
            .parse(p)
            .unwrap();
        let groups = RegexBuilder::new(p)
            .unicode(false)
            .build()
            .unwrap()
            .captures_len();
        Delimited::new(&hir, groups)
    }

    const ACCEPTED: &[&str] = &[
        APACHE,
        r"^(?P<a>\w+)=(?P<b>\d+)$",
        r"^(\S+) (\S+)",
        r"^[a-z]{2,4}(?P<n>\d{3})",
        r"^(?i)get (?P<p>\S+)",
        r"^(?P<m>[A-Z]+) (?P<v>\d+|-)$",
        r"^\d{3}\d",
        r"^a*b*c",
        r"^(?P<all>.*)",
        r"^x(?:(?P<a>[^ ]*) )(?P<b>[^ ]*)$",
    ];

    const REJECTED: &[&str] = &[
        r"^(?P<x>.*) (?P<y>\d+)$",
        r"(?P<x>\d+)",
        r"^(?P<a>\d+)?x",
        r"^(GET|GETX) ",
        r"^(?P<a>\d{1,3})(?P<b>\d+)",
        r"^a\b",
        r"^a*a",
        r"^(?P<v>\d*|-)",
    ];

    #[test]
    fn accepts_delimited_patterns_only() {
        for p in ACCEPTED {
            assert!(compile(p).is_some(), "should use the fast path: {p}");
        }
        for p in REJECTED {
            assert!(compile(p).is_none(), "must fall back to regex: {p}");
        }
    }

    struct Rng(u64);
    impl Rng {
        fn below(&mut self, n: usize) -> usize {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            (self.0 % n as u64) as usize
        }
    }

    /// Same match and same capture offsets as the regex crate, on random and mutated lines.
    #[test]
    fn agrees_with_the_regex_crate() {
        let samples: &[&[u8]] = &[
            b"10.0.0.1 - frank [23/Nov/2026:10:00:00 +0000] \"GET /a?b=1 HTTP/1.1\" 200 2326 \"-\" \"curl/8 (x)\" 1234",
            b"10.0.0.1 - - [x] \"POST / \" 404 - \"\" \"\" 0",
            b"abc=123",
            b"GET /index.html ab 12",
            b"aab1234c",
            b"POST 12",
            b"x a b",
        ];
        let alphabet = b"ab c019 -=\"[]/:GETXgetPOS\t\xff\n";
        let mut rng = Rng(7);
        for p in ACCEPTED {
            let fast = compile(p).unwrap();
            let re = RegexBuilder::new(p).unicode(false).build().unwrap();
            let mut locs = re.capture_locations();
            let mut slots = vec![0; fast.slot_len()];
            let mut check = |line: &[u8]| {
                let want = re.captures_read(&mut locs, line).is_some();
                let got = fast.matches(line, &mut slots);
                assert_eq!(got, want, "{p} on {:?}", String::from_utf8_lossy(line));
                if want {
                    for g in 0..locs.len() {
                        let (s, e) = locs.get(g).expect("every group takes part");
                        assert_eq!((slots[2 * g], slots[2 * g + 1]), (s, e), "{p} group {g}");
                    }
                }
            };
            for s in samples {
                check(s);
                for _ in 0..2_000 {
                    let mut line = s.to_vec();
                    for _ in 0..1 + rng.below(3) {
                        let at = rng.below(line.len() + 1);
                        let c = alphabet[rng.below(alphabet.len())];
                        match rng.below(3) {
                            0 if at < line.len() => line[at] = c,
                            1 if at < line.len() => {
                                line.remove(at);
                            }
                            _ => line.insert(at, c),
                        }
                    }
                    check(&line);
                }
            }
            for _ in 0..5_000 {
                let line: Vec<u8> = (0..rng.below(24))
                    .map(|_| alphabet[rng.below(alphabet.len())])
                    .collect();
                check(&line);
            }
        }
    }
}

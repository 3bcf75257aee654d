//! The `regex` parser: input is `PATTERN\nLINE`. Checks the record invariants and, when the
//! pattern runs on the single-pass `delimited` matcher, that it gives exactly what the regex
//! crate gives on the same line.
#![no_main]

use kpid_parsers::RegexParser;
use libfuzzer_sys::fuzz_target;
use std::cell::RefCell;

fuzz_target!(|data: &[u8]| {
    let Some(nl) = data.iter().position(|&b| b == b'\n') else {
        return;
    };
    let (pattern, line) = (&data[..nl], &data[nl + 1..]);
    // Short patterns without huge repetition counts: compiling `a{9999}{9999}` up to the
    // size limit is slow and tells nothing about parsing.
    let Ok(pattern) = std::str::from_utf8(pattern) else {
        return;
    };
    if pattern.len() > 200 || has_big_count(pattern) {
        return;
    }
    LAST.with_borrow_mut(|last| {
        // The fuzzer mutates lines more often than patterns: compile each pattern once.
        if last.as_ref().is_none_or(|(p, _)| p != pattern) {
            let parsers = RegexParser::new(pattern).ok().map(|fast| {
                let slow = (fast.engine() == "delimited")
                    .then(|| RegexParser::with_fast_path(pattern, false).expect("it compiled"));
                (fast, slow)
            });
            *last = Some((pattern.to_owned(), parsers));
        }
        let Some((_, Some((fast, slow)))) = last else {
            return;
        };
        let got = kpid_fuzz::check_parser(fast, line);
        if let Some(slow) = slow {
            let want = kpid_fuzz::check_parser(slow, line);
            assert_eq!(
                got, want,
                "delimited and regex engines disagree on {pattern:?}"
            );
        }
    });
});

type Compiled = Option<(RegexParser, Option<RegexParser>)>;

thread_local! {
    static LAST: RefCell<Option<(String, Compiled)>> = const { RefCell::new(None) };
}

/// A run of three or more digits (a repetition count of 100 or more, or a long literal).
fn has_big_count(p: &str) -> bool {
    p.as_bytes()
        .windows(3)
        .any(|w| w.iter().all(u8::is_ascii_digit))
}

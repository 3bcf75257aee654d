//! The `plain` parser on any line: no panic, the record invariants of `check_parser`, and it
//! never fails (every line is plain text).
#![no_main]

use kpid_parsers::{builtin, ParserOptions};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|line: &[u8]| {
    let mut parser = builtin("plain", &ParserOptions::default()).expect("a built-in parser");
    let got = kpid_fuzz::check_parser(parser.as_mut(), line);
    assert!(!got.starts_with("error: "), "plain failed: {got}");
});

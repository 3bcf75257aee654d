//! The `json` parser on any line: no panic, and the record invariants of `check_parser`.
#![no_main]

use kpid_parsers::{builtin, ParserOptions};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|line: &[u8]| {
    let mut parser = builtin("json", &ParserOptions::default()).expect("a built-in parser");
    kpid_fuzz::check_parser(parser.as_mut(), line);
});

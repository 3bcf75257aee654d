//! The `auto` parser on any line: no panic, the record invariants of `check_parser`, and its
//! documented choice: a line starting (after blanks) with `{` gives exactly what the `json`
//! parser gives; any other line parses (logfmt or plain text never fail).
#![no_main]

use kpid_parsers::{builtin, ParserOptions};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|line: &[u8]| {
    let none = ParserOptions::default();
    let mut auto = builtin("auto", &none).expect("a built-in parser");
    let got = kpid_fuzz::check_parser(auto.as_mut(), line);
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    let first = line.iter().find(|&&c| c != b' ' && c != b'\t');
    if first == Some(&b'{') {
        let mut json = builtin("json", &none).expect("a built-in parser");
        assert_eq!(
            got,
            kpid_fuzz::check_parser(json.as_mut(), line),
            "auto is not json"
        );
    } else {
        assert!(
            !got.starts_with("error: "),
            "auto failed on a non-JSON line: {got}"
        );
    }
});

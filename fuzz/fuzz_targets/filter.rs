//! Rule filters (`status >= 500 and not (path =~ "^/api" or x == 1)`) and value expressions
//! (`bytes_out - bytes_body`): compiling any text never panics, errors say `invalid ...`,
//! and what compiles runs on records of every shape.
#![no_main]

use kpid::engine::filter::{Arith, Filter, View};
use kpid_parsers::{Level, Record, Value};
use libfuzzer_sys::fuzz_target;
use std::borrow::Cow;

fuzz_target!(|data: &[u8]| {
    let Ok(src) = std::str::from_utf8(data) else {
        return;
    };
    // Long filters only make regex compilation slower; config filters are one line.
    if src.len() > 512 {
        return;
    }
    match Filter::parse(src) {
        Ok(f) => {
            for rec in records() {
                let _ = f.matches("web", &rec);
            }
            let _ = f.keys().count();
        }
        Err(e) => assert!(
            e.starts_with("invalid "),
            "error `{e}` does not say what was invalid"
        ),
    }
    match Arith::parse(src) {
        Ok(a) => {
            for rec in records() {
                let _ = a.eval(&View::new("web", &rec));
            }
            let _ = a.keys().len();
        }
        Err(e) => assert!(
            e.starts_with("invalid "),
            "error `{e}` does not say what was invalid"
        ),
    }
});

/// A record with a field of every value type under the names filters tend to use, and an
/// empty one.
fn records() -> [Record<'static>; 2] {
    let mut r = Record::new();
    r.level = Some(Level::Warn);
    r.message = Some(Cow::Borrowed(b"took 12ms"));
    r.target = Some(Cow::Borrowed(b"app::db"));
    r.timestamp = Some(1.7e9);
    r.push(&b"status"[..], Value::Int(503));
    r.push(&b"ratio"[..], Value::Float(f64::NAN));
    r.push(&b"ok"[..], Value::Bool(true));
    r.push(&b"path"[..], Value::Str(Cow::Borrowed(b"/api/\xff")));
    r.push(&b"took"[..], Value::Duration(0.012));
    [r, Record::new()]
}

//! Runs a [`Parser`] through the same C boundary the host uses, without loading a library:
//! for a plugin's unit tests.
//!
//! ```
//! # use kpid_plugin::{Out, Parser, Reject};
//! # struct Word;
//! # impl Parser for Word {
//! #     fn new(_: &str) -> Result<Self, String> { Ok(Word) }
//! #     fn parse(&mut self, line: &[u8], out: &mut Out<'_>) -> Result<(), Reject> {
//! #         out.str("word", line); Ok(())
//! #     }
//! # }
//! use kpid_plugin::testing::{Harness, Item};
//! let mut h = Harness::<Word>::new("").unwrap();
//! assert_eq!(h.parse(b"hi").unwrap(), vec![Item::Str("word".into(), b"hi".to_vec())]);
//! ```

use crate::abi::{self, Sink};
use crate::{glue, Level, Parser, Reject};
use std::ffi::{c_void, CStr};
use std::marker::PhantomData;

/// One thing a parser reported, owned.
#[derive(Debug, Clone, PartialEq)]
pub enum Item {
    /// `Out::int`.
    Int(String, i64),
    /// `Out::float`.
    Float(String, f64),
    /// `Out::bool`.
    Bool(String, bool),
    /// `Out::str`.
    Str(String, Vec<u8>),
    /// `Out::duration`.
    Duration(String, f64),
    /// `Out::timestamp`.
    Timestamp(f64),
    /// `Out::level`.
    Level(Level),
    /// `Out::target`.
    Target(Vec<u8>),
    /// `Out::message`.
    Message(Vec<u8>),
}

/// A parser state made through the plugin table's `create`.
pub struct Harness<P: Parser> {
    state: *mut c_void,
    _parser: PhantomData<P>,
}

impl<P: Parser> std::fmt::Debug for Harness<P> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Harness")
            .field("state", &self.state)
            .finish()
    }
}

#[derive(Default)]
struct Collect {
    items: Vec<Item>,
    error: Option<String>,
}

unsafe fn text<'a>(p: *const u8, n: usize) -> &'a [u8] {
    if p.is_null() {
        &[]
    } else {
        // SAFETY: the SDK passes slices.
        unsafe { std::slice::from_raw_parts(p, n) }
    }
}
unsafe fn key(p: *const u8, n: usize) -> String {
    String::from_utf8_lossy(unsafe { text(p, n) }).into_owned()
}
unsafe fn push(ctx: *mut c_void, item: Item) {
    // SAFETY: ctx is the Collect the harness put in the sink.
    unsafe { (*ctx.cast::<Collect>()).items.push(item) }
}
unsafe extern "C" fn int_field(c: *mut c_void, k: *const u8, kl: usize, v: i64) {
    unsafe { push(c, Item::Int(key(k, kl), v)) }
}
unsafe extern "C" fn float_field(c: *mut c_void, k: *const u8, kl: usize, v: f64) {
    unsafe { push(c, Item::Float(key(k, kl), v)) }
}
unsafe extern "C" fn bool_field(c: *mut c_void, k: *const u8, kl: usize, v: i32) {
    unsafe { push(c, Item::Bool(key(k, kl), v != 0)) }
}
unsafe extern "C" fn str_field(c: *mut c_void, k: *const u8, kl: usize, v: *const u8, vl: usize) {
    unsafe { push(c, Item::Str(key(k, kl), text(v, vl).to_vec())) }
}
unsafe extern "C" fn duration_field(c: *mut c_void, k: *const u8, kl: usize, v: f64) {
    unsafe { push(c, Item::Duration(key(k, kl), v)) }
}
unsafe extern "C" fn timestamp(c: *mut c_void, t: f64) {
    unsafe { push(c, Item::Timestamp(t)) }
}
unsafe extern "C" fn level(c: *mut c_void, l: u32) {
    let l = match l {
        abi::LEVEL_ERROR => Level::Error,
        abi::LEVEL_WARN => Level::Warn,
        abi::LEVEL_INFO => Level::Info,
        abi::LEVEL_DEBUG => Level::Debug,
        _ => Level::Trace,
    };
    unsafe { push(c, Item::Level(l)) }
}
unsafe extern "C" fn target(c: *mut c_void, p: *const u8, n: usize) {
    unsafe { push(c, Item::Target(text(p, n).to_vec())) }
}
unsafe extern "C" fn message(c: *mut c_void, p: *const u8, n: usize) {
    unsafe { push(c, Item::Message(text(p, n).to_vec())) }
}
unsafe extern "C" fn error(c: *mut c_void, p: *const u8, n: usize) {
    let msg = String::from_utf8_lossy(unsafe { text(p, n) }).into_owned();
    unsafe { (*c.cast::<Collect>()).error = Some(msg) }
}

impl<P: Parser> Harness<P> {
    /// Builds the parser from `options`, as the host would; the error is the plugin's message.
    pub fn new(options: &str) -> Result<Self, String> {
        let mut state = std::ptr::null_mut();
        let mut err = [0u8; 512];
        // SAFETY: valid options slice, out-pointer and error buffer.
        let status = unsafe {
            glue::create::<P>(
                options.as_ptr(),
                options.len(),
                &mut state,
                err.as_mut_ptr().cast(),
                err.len(),
            )
        };
        if status == abi::STATUS_OK {
            return Ok(Harness {
                state,
                _parser: PhantomData,
            });
        }
        let msg = CStr::from_bytes_until_nul(&err).map(|c| c.to_string_lossy().into_owned());
        Err(msg.unwrap_or_default())
    }

    /// Parses one line; a panic comes back as `Reject::Invalid("panicked: ...")`.
    pub fn parse(&mut self, line: &[u8]) -> Result<Vec<Item>, Reject> {
        let mut collect = Collect::default();
        let sink = Sink {
            size: std::mem::size_of::<Sink>() as u32,
            reserved: 0,
            ctx: (&mut collect as *mut Collect).cast(),
            int_field,
            float_field,
            bool_field,
            str_field,
            duration_field,
            timestamp,
            level,
            target,
            message,
            error,
        };
        // SAFETY: a state from create::<P>, a valid line and a sink living across the call.
        let status = unsafe { glue::parse::<P>(self.state, line.as_ptr(), line.len(), &sink) };
        match status {
            abi::STATUS_OK => Ok(collect.items),
            abi::STATUS_NO_MATCH => Err(Reject::NoMatch),
            _ => Err(Reject::Invalid(collect.error.unwrap_or_default().into())),
        }
    }
}

impl<P: Parser> Drop for Harness<P> {
    fn drop(&mut self) {
        // SAFETY: the state came from create::<P> and is not used again.
        unsafe { glue::destroy::<P>(self.state) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Out;

    struct Boom;
    impl Parser for Boom {
        fn new(options: &str) -> Result<Self, String> {
            match options {
                "panic" => panic!("asked to"),
                "bad" => Err("bad options".into()),
                _ => Ok(Boom),
            }
        }
        fn parse(&mut self, line: &[u8], out: &mut Out<'_>) -> Result<(), Reject> {
            match line {
                b"panic" => panic!("line {}", 7),
                b"no" => Err(Reject::NoMatch),
                b"bad" => Err(Reject::invalid("bad value")),
                _ => {
                    out.int("n", 1);
                    out.level(Level::Warn);
                    Ok(())
                }
            }
        }
    }

    #[test]
    fn panics_and_rejections_cross_the_boundary_as_statuses() {
        assert_eq!(Harness::<Boom>::new("bad").unwrap_err(), "bad options");
        assert_eq!(
            Harness::<Boom>::new("panic").unwrap_err(),
            "panicked: asked to"
        );
        let mut h = Harness::<Boom>::new("").unwrap();
        assert_eq!(h.parse(b"no"), Err(Reject::NoMatch));
        assert_eq!(h.parse(b"bad"), Err(Reject::invalid("bad value")));
        assert_eq!(h.parse(b"panic"), Err(Reject::invalid("panicked: line 7")));
        // The parser is still usable after a panic.
        let want = vec![Item::Int("n".into(), 1), Item::Level(Level::Warn)];
        assert_eq!(h.parse(b"ok").unwrap(), want);
    }
}

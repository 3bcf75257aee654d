//! The C functions [`declare_parser!`](crate::declare_parser) puts in a plugin's table: they
//! turn raw pointers into slices, call the safe [`Parser`], and catch panics at the boundary.

use crate::abi::{self, Sink};
use crate::{Out, Parser, Reject};
use std::ffi::{c_char, c_void};
use std::panic::{self, AssertUnwindSafe};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Once;

/// Panics past this many are no longer printed by a loaded plugin (they are still reported to
/// the host as errors, line by line).
const PRINTED_PANICS: u64 = 10;

static PANICS: AtomicU64 = AtomicU64::new(0);
static HOOK: Once = Once::new();

/// Called by the entry function, that is only when the library is loaded as a plugin: the
/// library then has its own copy of std, whose panics are all the plugin's, and this hook
/// stops printing them after the first few. (Linked as a Rust library, for tests, the
/// program's panic hook is left alone.)
pub fn entered() {
    HOOK.call_once(|| {
        let previous = panic::take_hook();
        panic::set_hook(Box::new(move |info| {
            if PANICS.fetch_add(1, Ordering::Relaxed) < PRINTED_PANICS {
                previous(info);
            }
        }));
    });
}

/// Runs `f` with panics caught; the error is the panic's message.
fn guarded<R>(f: impl FnOnce() -> R) -> Result<R, String> {
    panic::catch_unwind(AssertUnwindSafe(f)).map_err(|payload| {
        let msg = payload
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "non-string panic payload".to_string());
        format!("panicked: {msg}")
    })
}

/// Bytes from a pointer and a length, an empty slice for a null pointer.
///
/// # Safety
/// A non-null `ptr` must point to `len` readable bytes that outlive `'a`.
unsafe fn bytes<'a>(ptr: *const u8, len: usize) -> &'a [u8] {
    if ptr.is_null() || len == 0 {
        &[]
    } else {
        // SAFETY: per this function's contract.
        unsafe { std::slice::from_raw_parts(ptr, len) }
    }
}

/// Copies `msg` into the host's error buffer, truncated on a character boundary.
unsafe fn write_err(err: *mut c_char, cap: usize, msg: &str) {
    if err.is_null() || cap == 0 {
        return;
    }
    let mut n = msg.len().min(cap - 1);
    while !msg.is_char_boundary(n) {
        n -= 1;
    }
    // SAFETY: the host gave `cap` writable bytes at `err`; we write n + 1 <= cap of them.
    unsafe {
        std::ptr::copy_nonoverlapping(msg.as_ptr(), err.cast::<u8>(), n);
        *err.add(n) = 0;
    }
}

/// `create` for parser type `P`.
///
/// # Safety
/// Called by the host per the ABI: valid options bytes, state and error pointers.
pub unsafe extern "C" fn create<P: Parser>(
    options: *const u8,
    options_len: usize,
    state: *mut *mut c_void,
    err: *mut c_char,
    err_cap: usize,
) -> i32 {
    // SAFETY: the host passes `options_len` readable bytes.
    let options = unsafe { bytes(options, options_len) };
    let Ok(options) = std::str::from_utf8(options) else {
        unsafe { write_err(err, err_cap, "options are not valid UTF-8") };
        return abi::STATUS_INVALID;
    };
    match guarded(|| P::new(options)) {
        Ok(Ok(parser)) => {
            // SAFETY: `state` is a valid out-pointer from the host.
            unsafe { *state = Box::into_raw(Box::new(parser)).cast() };
            abi::STATUS_OK
        }
        Ok(Err(msg)) => {
            unsafe { write_err(err, err_cap, &msg) };
            abi::STATUS_INVALID
        }
        Err(msg) => {
            unsafe { write_err(err, err_cap, &msg) };
            abi::STATUS_PANIC
        }
    }
}

/// `parse` for parser type `P`.
///
/// # Safety
/// `state` comes from `create::<P>`; `line` holds `len` bytes; `sink` is the host's sink.
pub unsafe extern "C" fn parse<P: Parser>(
    state: *mut c_void,
    line: *const u8,
    len: usize,
    sink: *const Sink,
) -> i32 {
    // SAFETY: per the ABI: a live state made by `create::<P>`, used by one thread at a time,
    // `len` readable bytes of line, and a sink valid for this call.
    let (parser, line, sink) = unsafe { (&mut *state.cast::<P>(), bytes(line, len), &*sink) };
    let mut out = unsafe { Out::from_sink(sink) };
    match guarded(|| parser.parse(line, &mut out)) {
        Ok(Ok(())) => abi::STATUS_OK,
        Ok(Err(Reject::NoMatch)) => abi::STATUS_NO_MATCH,
        Ok(Err(Reject::Invalid(msg))) => {
            out.error(&msg);
            abi::STATUS_INVALID
        }
        Err(msg) => {
            out.error(&msg);
            abi::STATUS_PANIC
        }
    }
}

/// `destroy` for parser type `P`.
///
/// # Safety
/// `state` comes from `create::<P>` and is not used afterwards.
pub unsafe extern "C" fn destroy<P: Parser>(state: *mut c_void) {
    if state.is_null() {
        return;
    }
    // SAFETY: `state` was made by Box::into_raw in `create::<P>`; a panicking Drop is caught.
    let parser = unsafe { Box::from_raw(state.cast::<P>()) };
    let _ = guarded(move || drop(parser));
}

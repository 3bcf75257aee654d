//! The binary interface between kpid and a plugin: plain `#[repr(C)]` data and C function
//! pointers, mirrored field for field by `plugins/include/kpid_plugin.h`.
//!
//! A plugin exports one function, [`ENTRY_SYMBOL`], that returns a pointer to a static
//! [`PluginTable`]. The host reads `abi_version` and `size` first and refuses the plugin unless
//! they match what it speaks; only then does it call `create`, `parse` and `destroy`. Lines go in
//! as bytes; what a line yields comes back through the callbacks of a [`Sink`], valid only for
//! the duration of the `parse` call that received it.

use std::ffi::{c_char, c_void};

/// Version of this interface. The host refuses a table with any other version.
pub const ABI_VERSION: u32 = 1;

/// Name of the function every plugin exports: `const struct kpid_plugin *kpid_plugin_entry(void)`.
pub const ENTRY_SYMBOL: &str = "kpid_plugin_entry";

/// `create` / `parse` status: success.
pub const STATUS_OK: i32 = 0;
/// `parse` status: the line is not in this plugin's format.
pub const STATUS_NO_MATCH: i32 = 1;
/// `create` / `parse` status: bad options, or a line of the right format with a bad value.
pub const STATUS_INVALID: i32 = 2;
/// `create` / `parse` status: the plugin panicked (set by the Rust SDK).
pub const STATUS_PANIC: i32 = 3;

/// Levels passed to [`Sink::level`], from the most to the least severe.
pub const LEVEL_ERROR: u32 = 1;
/// Warning level.
pub const LEVEL_WARN: u32 = 2;
/// Info level.
pub const LEVEL_INFO: u32 = 3;
/// Debug level.
pub const LEVEL_DEBUG: u32 = 4;
/// Trace level.
pub const LEVEL_TRACE: u32 = 5;

/// Callback taking a key (bytes and length) and a value.
pub type KeyFn<V> =
    unsafe extern "C" fn(ctx: *mut c_void, key: *const u8, key_len: usize, value: V);
/// Callback taking bytes and a length.
pub type BytesFn = unsafe extern "C" fn(ctx: *mut c_void, bytes: *const u8, len: usize);

/// What a plugin reports a line into. Built by the host for each `parse` call.
///
/// Keys and string values may point into the line (kept without copying), into the plugin's
/// read-only data such as string literals (kept without copying: plugins are never unloaded),
/// or anywhere else (copied before the callback returns).
#[repr(C)]
#[derive(Debug)]
pub struct Sink {
    /// `sizeof(struct kpid_sink)` as the host knows it.
    pub size: u32,
    /// Zero.
    pub reserved: u32,
    /// The host's context: pass it back as the first argument of every callback.
    pub ctx: *mut c_void,
    /// A whole number field.
    pub int_field: KeyFn<i64>,
    /// A floating-point field.
    pub float_field: KeyFn<f64>,
    /// A boolean field (non-zero is true).
    pub bool_field: KeyFn<i32>,
    /// A text field: key, key length, value, value length.
    pub str_field: unsafe extern "C" fn(
        ctx: *mut c_void,
        key: *const u8,
        key_len: usize,
        val: *const u8,
        val_len: usize,
    ),
    /// A duration field, in seconds.
    pub duration_field: KeyFn<f64>,
    /// The record's time, in Unix seconds.
    pub timestamp: unsafe extern "C" fn(ctx: *mut c_void, unix_seconds: f64),
    /// The record's level (`LEVEL_*`); other values are ignored.
    pub level: unsafe extern "C" fn(ctx: *mut c_void, level: u32),
    /// The emitting module or logger.
    pub target: BytesFn,
    /// The human message.
    pub message: BytesFn,
    /// Why the line is rejected; call before returning `STATUS_INVALID`.
    pub error: BytesFn,
}

/// `create`: builds a parser from its options (UTF-8, not NUL-terminated). On success stores
/// the parser's state (may be null) in `*state` and returns `STATUS_OK`; otherwise writes a
/// NUL-terminated message of at most `err_cap` bytes into `err`.
pub type CreateFn = unsafe extern "C" fn(
    options: *const u8,
    options_len: usize,
    state: *mut *mut c_void,
    err: *mut c_char,
    err_cap: usize,
) -> i32;

/// `parse`: parses one line (without its terminator) into `sink`; returns a `STATUS_*`.
pub type ParseFn =
    unsafe extern "C" fn(state: *mut c_void, line: *const u8, len: usize, sink: *const Sink) -> i32;

/// `destroy`: frees a state made by `create`.
pub type DestroyFn = unsafe extern "C" fn(state: *mut c_void);

/// The table a plugin's entry function returns. It must live as long as the library.
#[repr(C)]
#[derive(Debug)]
pub struct PluginTable {
    /// Must equal [`ABI_VERSION`].
    pub abi_version: u32,
    /// `sizeof(struct kpid_plugin)`; the host refuses a smaller table.
    pub size: u32,
    /// Parser name used in configuration, NUL-terminated: `[A-Za-z0-9_.-]`, at most 64 bytes.
    pub name: *const c_char,
    /// The plugin's own version, NUL-terminated free text.
    pub version: *const c_char,
    /// One line saying what the plugin parses, NUL-terminated; may be null.
    pub description: *const c_char,
    /// Builds a parser state.
    pub create: Option<CreateFn>,
    /// Parses one line.
    pub parse: Option<ParseFn>,
    /// Frees a parser state.
    pub destroy: Option<DestroyFn>,
}

// SAFETY: a table is immutable static data (C strings and function pointers) for as long as
// the library is mapped, and plugins are never unloaded.
unsafe impl Sync for PluginTable {}

/// Signature of the entry function.
pub type EntryFn = unsafe extern "C" fn() -> *const PluginTable;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[cfg(target_pointer_width = "64")]
    fn layout_matches_the_c_header() {
        // The header's static asserts check the same figures on the C side.
        assert_eq!(std::mem::size_of::<PluginTable>(), 56);
        assert_eq!(std::mem::size_of::<Sink>(), 96);
        assert_eq!(std::mem::offset_of!(PluginTable, create), 32);
        assert_eq!(std::mem::offset_of!(Sink, error), 88);
    }
}

//! [`Out`]: where a parser reports what a line holds.

use crate::abi::{self, Sink};

/// Severity of a record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    /// Errors.
    Error,
    /// Warnings.
    Warn,
    /// Information.
    Info,
    /// Debugging detail.
    Debug,
    /// Tracing detail.
    Trace,
}

impl Level {
    fn code(self) -> u32 {
        match self {
            Level::Error => abi::LEVEL_ERROR,
            Level::Warn => abi::LEVEL_WARN,
            Level::Info => abi::LEVEL_INFO,
            Level::Debug => abi::LEVEL_DEBUG,
            Level::Trace => abi::LEVEL_TRACE,
        }
    }
}

/// Receives the fields of one line. Fields are kept in the order they are reported.
///
/// Keys and values are best given as slices of the line or string literals: the host keeps
/// those without copying. Anything else is copied.
#[derive(Debug)]
pub struct Out<'s> {
    sink: &'s Sink,
}

impl<'s> Out<'s> {
    /// Wraps a host sink.
    ///
    /// # Safety
    /// `sink` must be a sink the host passed to `parse`, used only during that call.
    pub unsafe fn from_sink(sink: &'s Sink) -> Self {
        Out { sink }
    }

    /// A whole number.
    #[inline]
    pub fn int(&mut self, key: &str, value: i64) {
        // SAFETY (all callbacks below): the host's callbacks accept any pointer/length pair
        // describing readable memory, which a Rust slice is, for the duration of the call.
        unsafe { (self.sink.int_field)(self.sink.ctx, key.as_ptr(), key.len(), value) }
    }

    /// A number with a fraction.
    #[inline]
    pub fn float(&mut self, key: &str, value: f64) {
        unsafe { (self.sink.float_field)(self.sink.ctx, key.as_ptr(), key.len(), value) }
    }

    /// A boolean.
    #[inline]
    pub fn bool(&mut self, key: &str, value: bool) {
        unsafe { (self.sink.bool_field)(self.sink.ctx, key.as_ptr(), key.len(), value as i32) }
    }

    /// Text (any bytes).
    #[inline]
    pub fn str(&mut self, key: &str, value: &[u8]) {
        unsafe {
            (self.sink.str_field)(
                self.sink.ctx,
                key.as_ptr(),
                key.len(),
                value.as_ptr(),
                value.len(),
            )
        }
    }

    /// A duration in seconds.
    #[inline]
    pub fn duration(&mut self, key: &str, seconds: f64) {
        unsafe { (self.sink.duration_field)(self.sink.ctx, key.as_ptr(), key.len(), seconds) }
    }

    /// The record's time, in Unix seconds.
    #[inline]
    pub fn timestamp(&mut self, unix_seconds: f64) {
        unsafe { (self.sink.timestamp)(self.sink.ctx, unix_seconds) }
    }

    /// The record's level.
    #[inline]
    pub fn level(&mut self, level: Level) {
        unsafe { (self.sink.level)(self.sink.ctx, level.code()) }
    }

    /// The emitting module or logger.
    #[inline]
    pub fn target(&mut self, target: &[u8]) {
        unsafe { (self.sink.target)(self.sink.ctx, target.as_ptr(), target.len()) }
    }

    /// The human message.
    #[inline]
    pub fn message(&mut self, message: &[u8]) {
        unsafe { (self.sink.message)(self.sink.ctx, message.as_ptr(), message.len()) }
    }

    pub(crate) fn error(&mut self, message: &str) {
        unsafe { (self.sink.error)(self.sink.ctx, message.as_ptr(), message.len()) }
    }
}

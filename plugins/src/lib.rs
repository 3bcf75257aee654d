//! SDK for kpid parser plugins.
//!
//! A plugin is a `cdylib` that turns lines of a log format into fields. Write a type that
//! implements [`Parser`], then export it with [`declare_parser!`]:
//!
//! ```
//! use kpid_plugin::{declare_parser, Out, Parser, Reject};
//!
//! /// Lines such as `took 12 ms`.
//! struct Took;
//!
//! impl Parser for Took {
//!     fn new(_options: &str) -> Result<Self, String> {
//!         Ok(Took)
//!     }
//!     fn parse(&mut self, line: &[u8], out: &mut Out<'_>) -> Result<(), Reject> {
//!         let rest = line.strip_prefix(b"took ").ok_or(Reject::NoMatch)?;
//!         let ms = rest.strip_suffix(b" ms").ok_or(Reject::NoMatch)?;
//!         let ms: f64 = std::str::from_utf8(ms)
//!             .ok()
//!             .and_then(|s| s.parse().ok())
//!             .ok_or_else(|| Reject::invalid("took: not a number"))?;
//!         out.duration("took", ms / 1000.0);
//!         Ok(())
//!     }
//! }
//!
//! declare_parser!(Took, name = "took", description = "`took N ms` lines");
//! ```
//!
//! No Rust type crosses the library boundary: [`declare_parser!`] exports one C function
//! returning a [`abi::PluginTable`] of C function pointers, behind [`abi::ABI_VERSION`], which
//! the host checks before calling anything else. Every call into the parser runs inside
//! `catch_unwind`: a panic becomes an error for that line (or for `create`), never an unwind
//! into the host. Plugins can equally be written in C against `include/kpid_plugin.h`.

pub mod abi;
#[doc(hidden)]
pub mod glue;
mod options;
mod out;
pub mod testing;

pub use options::options;
pub use out::{Level, Out};

use std::borrow::Cow;

/// Why a line yields no record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reject {
    /// The line is not in this plugin's format (another parser may take it).
    NoMatch,
    /// The line is in this format but a value is wrong; the message says which.
    Invalid(Cow<'static, str>),
}

impl Reject {
    /// A [`Reject::Invalid`] with this message.
    pub fn invalid(msg: impl Into<Cow<'static, str>>) -> Self {
        Reject::Invalid(msg.into())
    }
}

/// A log format: built once per source from its options, then fed that source's lines.
///
/// A parser instance is used by one thread at a time but may move between threads.
pub trait Parser: Send + Sized + 'static {
    /// Builds the parser from the source's `options` string (empty when none were given).
    /// The error message is shown to the user as is.
    fn new(options: &str) -> Result<Self, String>;

    /// Parses one line (without its terminator), reporting what it holds into `out`.
    fn parse(&mut self, line: &[u8], out: &mut Out<'_>) -> Result<(), Reject>;
}

/// Exports a [`Parser`] as a kpid plugin: defines the `kpid_plugin_entry` symbol and its
/// table. Use it once per `cdylib`.
///
/// `name` is the parser name users put in their configuration (`[A-Za-z0-9_.-]`, at most 64
/// bytes). `version` defaults to the crate's version; `description` to an empty string.
#[macro_export]
macro_rules! declare_parser {
    ($ty:ty, name = $name:literal $(, version = $version:literal)? $(, description = $desc:literal)? $(,)?) => {
        /// kpid plugin entry point: returns this plugin's function table.
        #[unsafe(no_mangle)]
        pub extern "C" fn kpid_plugin_entry() -> *const $crate::abi::PluginTable {
            static TABLE: $crate::abi::PluginTable = $crate::abi::PluginTable {
                abi_version: $crate::abi::ABI_VERSION,
                size: ::core::mem::size_of::<$crate::abi::PluginTable>() as u32,
                name: concat!($name, "\0").as_ptr().cast(),
                version: $crate::declare_parser!(@version $($version)?).as_ptr().cast(),
                description: concat!($($desc,)? "\0").as_ptr().cast(),
                create: Some($crate::glue::create::<$ty>),
                parse: Some($crate::glue::parse::<$ty>),
                destroy: Some($crate::glue::destroy::<$ty>),
            };
            $crate::glue::entered();
            &TABLE
        }
    };
    (@version $version:literal) => { concat!($version, "\0") };
    (@version) => { concat!(env!("CARGO_PKG_VERSION"), "\0") };
}

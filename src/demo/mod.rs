//! The demo's simulated inference pipeline: it writes `logs/pipeline.log` ([`simulator`]) and
//! reports its spans through kpid-layer ([`spans`]); `kpid demo` (`crate::cmd`) runs it beside
//! kpid with the rules in `demo.toml`.

pub mod simulator;
pub mod spans;

/// The demo's rules (also an example of the config format).
pub const DEMO_TOML: &str = include_str!("demo.toml");

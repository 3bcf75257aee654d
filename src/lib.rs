//! kpid, the daemon: sources → engine → published snapshots → server.
//!
//! Each subsystem is a folder named after what flows through it: [`sources`] produce inputs
//! (line batches from the tailer, app frames from the socket) onto one bounded channel; the
//! [`engine`] is the one stage that parses lines, decodes frames, applies the rules to the KPI
//! store (`kpi`, which it alone owns) and publishes snapshots; the server reads those and
//! serves HTTP, WebSocket and Prometheus. The daemon assembles it all from the config; [`cmd`]
//! holds the commands and their arguments; [`health`] is how each component reports itself.
//! docs/architecture.md tells the whole flow.
//!
//! The public surface is what the binary and the integration tests use; the rest is private.

mod alerts;
pub mod cmd;
mod config;
mod daemon;
pub mod demo;
pub mod engine;
mod export;
#[doc(hidden)]
pub mod fuzzing;
pub mod health;
pub mod history;
mod kpi;
pub mod logs;
pub mod plugin_host;
pub mod report;
mod server;
pub mod sources;
pub mod state;
pub mod traces;
pub mod trust;

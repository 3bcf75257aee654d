//! kpid, the daemon: sources → parse → KPI store → server.
//!
//! Each subsystem is a folder named after what flows through it: [`sources`] produce lines,
//! [`parse`] turns lines into records and records into samples through rules, [`kpi`] keeps
//! the series, [`server`] serves them over HTTP, WebSocket and Prometheus. [`daemon`]
//! assembles them from a [`config::Config`]; [`state`] checkpoints offsets and counters.

pub mod cli;
pub mod config;
pub mod daemon;
pub mod demo;
pub mod engine;
pub mod kpi;
pub mod plugin_host;
pub mod server;
pub mod sources;
pub mod state;

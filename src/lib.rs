//! kpid, the daemon: sources → parse → KPI store → server.
//!
//! Each subsystem is a folder named after what flows through it: [`sources`] produce lines,
//! `parse` turns lines into records and records into samples through rules, `kpi` keeps the
//! series, `server` serves them over HTTP, WebSocket and Prometheus.

pub mod sources;

//! `[otlp]`: the OpenTelemetry (OTLP/HTTP) receiver.

use serde::Deserialize;

/// `[otlp]`: where and within what limits OpenTelemetry SDKs may export to kpid.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OtlpSettings {
    /// Receive OTLP at all (default true; `--no-otlp` turns it off).
    pub enabled: bool,
    /// Address to listen on (default `127.0.0.1:4318`, the SDKs' default; `--otlp ADDR`).
    pub listen: String,
    /// Largest request body, as sent and once inflated (default 4 MiB).
    pub max_body: usize,
    /// Bytes all requests in flight may hold, bodies and decoded messages (default 64 MiB).
    pub memory_budget: usize,
    /// Most open connections (default 256).
    pub max_connections: usize,
}

impl Default for OtlpSettings {
    fn default() -> Self {
        OtlpSettings {
            enabled: true,
            listen: crate::sources::otlp::DEFAULT_ADDR.to_owned(),
            max_body: 4 << 20,
            memory_budget: 64 << 20,
            max_connections: 256,
        }
    }
}

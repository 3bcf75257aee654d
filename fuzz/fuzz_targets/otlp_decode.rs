//! OTLP/HTTP bodies as the receiver and the engine take them: the first byte picks the
//! signal, protobuf or JSON, and gzip; the body is inflated within a cap, decoded, checked
//! (re-encoding gives the same request), applied through rules into the KPI store twice,
//! published and rendered for Prometheus. Nothing may panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = kpid::fuzzing::otlp(data);
});

//! tracing layer that sends spans and events to kpid (placeholder: being written).

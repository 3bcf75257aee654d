//! wire types of the kpid app protocol (no I/O) (placeholder: being written).

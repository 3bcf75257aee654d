//! `kpid parse` and `kpid plugins` (being written).

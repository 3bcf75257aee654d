//! SDK for kpid parser plugins (placeholder: being written).

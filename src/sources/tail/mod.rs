//! The rotation-safe file tailer (being written).

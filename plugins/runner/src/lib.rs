//! kpid parser plugin for model-runner logs (placeholder: being written).

//! kpid parser plugin for nginx/Apache access logs (placeholder: being written).

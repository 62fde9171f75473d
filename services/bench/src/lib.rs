//! What the service benchmarks share.

pub mod workload;

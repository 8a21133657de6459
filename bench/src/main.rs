//! `eti-bench`: latency benchmarks (being written).
fn main() {}

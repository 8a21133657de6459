//! Benchmark slot: being written by its issue.
fn main() {}

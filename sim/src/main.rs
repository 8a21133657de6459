//! `eti-sim`: the exchange simulator's command line (being written).
fn main() {}

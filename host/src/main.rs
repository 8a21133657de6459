//! `eti`: the trading host's command line (being written).
fn main() {}

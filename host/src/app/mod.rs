//! Application assembly: configuration (embedded defaults, validation) and
//! the runner that builds a host from it (`eti run`).

pub mod config;
pub mod runner;

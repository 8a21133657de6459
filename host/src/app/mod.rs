//! Application assembly: configuration (embedded defaults, partial files
//! merged over them, validation), the runner that builds a host from it
//! (`eti run`), and signal handling for the long-running commands.

pub mod config;
pub mod runner;
pub mod signals;

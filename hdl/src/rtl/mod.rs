//! The risk gate in rust-hdl, one block per file: [`parser`], [`symbol`]
//! (lookup), [`checks`] (arithmetic), [`firm`] (state), [`decision`], wired in
//! [`top`]. [`sim`] steps it cycle by cycle; [`verilog`] emits it.

pub mod checks;
pub mod decision;
pub mod firm;
pub mod parser;
pub mod sim;
pub mod symbol;
pub mod top;
pub mod verilog;

pub use top::{RiskGateRtl, CONTROL_LATENCY, LATENCY};

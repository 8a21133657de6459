//! eti-hdl: the pre-trade risk gate every order leaving ETI passes, in rust-hdl,
//! beside a bit-exact software golden model, proven equal by differential
//! simulation, emitted as Verilog and synthesized with yosys/nextpnr.
//!
//! - [`regmap`]: register map (the table), reject reasons, table sizes.
//! - [`gate`]: the [`RiskGate`] trait the host calls, typed register errors, exposure updates.
//! - [`golden`]: [`GoldenModel`], the allocation-free software gate.
//! - [`hash`]: the seeded symbol hash and the perfect-hash seed search.
//! - [`driver`]: [`GateDriver`], typed host operations over any [`RiskGate`].
//! - [`rtl`]: the RTL blocks, [`SimulatedGate`], Verilog emission.
//! - [`vectors`]: OUCH 4.2 inbound encoders and the random scenario generator.
//! - [`diff`]: the differential run (golden model vs. rust-hdl simulation).
//! - [`verilator`]: golden-model vectors replayed on the generated Verilog under Verilator.
//! - [`synth`]: ECP5 place and route (the Fmax ratchet), iCE40 / xc7 rows, the `synth.json` report.
//! - [`scenario`]: JSON-lines scenarios through golden model and RTL side by side (`eti-hdl scenario`).
//! - [`skip`]: tests that need an outside tool skip with the reason, or fail under CI.

pub mod diff;
pub mod driver;
pub mod gate;
pub mod golden;
pub mod hash;
pub mod regmap;
pub mod rtl;
pub mod scenario;
pub mod skip;
pub mod synth;
pub mod vectors;
pub mod verilator;

pub use driver::GateDriver;
pub use gate::{ExposureUpdate, RegisterError, RiskGate};
pub use golden::GoldenModel;
pub use regmap::{Decision, RejectReason};
pub use rtl::sim::SimulatedGate;

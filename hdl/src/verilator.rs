//! Verilator flow: the golden model writes vectors, Verilator compiles the
//! generated `risk_gate.v` with `verilator/tb.cpp`, and the test bench replays
//! the vectors against the Verilog. Any [`Profile`] makes vectors; one build
//! replays several (the order table's profiles beside the table-off one).

use crate::gate::RiskGate;
use crate::golden::GoldenModel;
use crate::vectors::{Op, Profile};
use anyhow::{bail, Context, Result};
use std::io::{BufWriter, Write};
use std::path::Path;
use std::process::Command;

/// The C++ test bench, embedded so the binary can run the flow from anywhere.
pub const TESTBENCH: &str = include_str!("../verilator/tb.cpp");

/// Write golden-model vectors for `orders` orders of scenario `seed`
/// (format documented at the top of `verilator/tb.cpp`). Returns orders written.
///
/// # Errors
/// I/O errors.
pub fn write_vectors(path: &Path, seed: u64, orders: u64) -> Result<u64> {
    write_profile_vectors(path, Profile::Random, seed, orders)
}

/// Write golden-model vectors of any profile (as [`write_vectors`]).
///
/// # Errors
/// I/O errors.
pub fn write_profile_vectors(path: &Path, profile: Profile, seed: u64, orders: u64) -> Result<u64> {
    let mut w = BufWriter::new(
        std::fs::File::create(path).with_context(|| format!("creating {}", path.display()))?,
    );
    let mut model = GoldenModel::new();
    let mut n = 0;
    for op in profile.ops(seed, orders) {
        match op {
            Op::Order { firm, len, bytes } => {
                let msg = &bytes[..usize::from(len)];
                let d = model.check(firm, msg);
                w.write_all(&[b'M', firm, len])?;
                w.write_all(msg)?;
                w.write_all(&[d.code()])?;
                n += 1;
            }
            Op::Write { addr, value } => {
                let r = model.write_register(addr, value);
                w.write_all(b"W")?;
                w.write_all(&addr.to_le_bytes())?;
                w.write_all(&value.to_le_bytes())?;
                w.write_all(&[u8::from(r.is_err())])?;
            }
            Op::Read { addr } => {
                let r = model.read_register(addr);
                w.write_all(b"R")?;
                w.write_all(&addr.to_le_bytes())?;
                w.write_all(&[u8::from(r.is_err())])?;
                w.write_all(&r.unwrap_or(0).to_le_bytes())?;
            }
        }
    }
    w.flush()?;
    Ok(n)
}

/// Is `verilator` on the PATH?
pub fn available() -> bool {
    Command::new("verilator")
        .arg("--version")
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false)
}

/// Generate the Verilog into `dir`, build the test bench with `-O2`, replay
/// `orders` orders of scenario `seed`. Returns the test bench's summary line.
///
/// # Errors
/// Build failures, or any mismatch (the summary is in the error).
pub fn run(dir: &Path, orders: u64, seed: u64) -> Result<String> {
    let mut lines = run_profiles(dir, &[(Profile::Random, orders, seed)])?;
    lines
        .pop()
        .context("the test bench printed no summary line")
}

/// Build the test bench once in `dir`, then replay each `(profile, orders,
/// seed)`. Returns one summary line per run, prefixed by the profile's name
/// only when there is more than one.
///
/// # Errors
/// Build failures, or any mismatch (the summary is in the error).
pub fn run_profiles(dir: &Path, runs: &[(Profile, u64, u64)]) -> Result<Vec<String>> {
    std::fs::create_dir_all(dir)?;
    std::fs::write(
        dir.join("risk_gate.v"),
        crate::rtl::verilog::risk_gate_verilog(),
    )?;
    std::fs::write(dir.join("tb.cpp"), TESTBENCH)?;
    let obj = dir.join("obj_dir");
    let out = Command::new("verilator")
        .current_dir(dir)
        .args([
            "--cc",
            "--exe",
            "--build",
            "-O2",
            "-Wno-fatal",
            "-Wno-lint",
            "-Wno-style",
            "--top-module",
            "risk_gate",
        ])
        .args(["-CFLAGS", "-O2", "-MAKEFLAGS", "-j2", "--Mdir"])
        .arg(&obj)
        .args(["risk_gate.v", "tb.cpp"])
        .output()
        .context("running verilator")?;
    std::fs::write(
        dir.join("verilator.log"),
        [&out.stdout[..], &out.stderr[..]].concat(),
    )?;
    if !out.status.success() {
        bail!(
            "verilator build failed, see {}",
            dir.join("verilator.log").display()
        );
    }
    let mut lines = Vec::with_capacity(runs.len());
    for &(profile, orders, seed) in runs {
        let vec = dir.join(format!("vectors-{}.bin", profile.name()));
        write_profile_vectors(&vec, profile, seed, orders)?;
        let tb = Command::new(obj.join("Vrisk_gate"))
            .arg(&vec)
            .output()
            .context("running the test bench")?;
        let summary = String::from_utf8_lossy(&tb.stdout).trim().to_string();
        let errs = String::from_utf8_lossy(&tb.stderr).to_string();
        if !tb.status.success() {
            bail!(
                "test bench failed on profile {}: {summary}\n{errs}",
                profile.name()
            );
        }
        lines.push(if runs.len() > 1 {
            format!("{}: {summary}", profile.name())
        } else {
            summary
        });
    }
    Ok(lines)
}

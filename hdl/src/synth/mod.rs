//! Synthesis report. Headline: the whole gate placed and routed on an ECP5
//! LFE5U-85F at 156.25 MHz ([`ecp5`]). Secondary rows: yosys `synth_ice40` and
//! `synth_xilinx` cell counts on the whole gate, whether any iCE40 would hold it,
//! and (on request) nextpnr-ice40 Fmax per RTL block, each wrapped in a register
//! harness so its I/O does not need pins. Everything lands in one directory:
//! `risk_gate.v`, the tools' logs, and `synth.json`.

use crate::rtl::{
    checks::Checks, decision::Decision, firm::FirmStore, parser::Parser, symbol::SymbolLookup,
};
use anyhow::{bail, Context, Result};
use rust_hdl::prelude::*;
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

pub mod ecp5;

/// An iCE40 part nextpnr knows, with its resources.
#[derive(Debug, Clone, Copy)]
pub struct Ice40Part {
    pub name: &'static str,
    pub flag: &'static str,
    pub package: &'static str,
    pub lcs: u64,
    pub brams: u64,
    pub dsps: u64,
}

/// Smallest first.
pub const ICE40_PARTS: [Ice40Part; 4] = [
    Ice40Part {
        name: "iCE40HX1K",
        flag: "--hx1k",
        package: "tq144",
        lcs: 1280,
        brams: 16,
        dsps: 0,
    },
    Ice40Part {
        name: "iCE40HX4K",
        flag: "--hx4k",
        package: "tq144",
        lcs: 3520,
        brams: 20,
        dsps: 0,
    },
    Ice40Part {
        name: "iCE40UP5K",
        flag: "--up5k",
        package: "sg48",
        lcs: 5280,
        brams: 30,
        dsps: 8,
    },
    Ice40Part {
        name: "iCE40HX8K",
        flag: "--hx8k",
        package: "ct256",
        lcs: 7680,
        brams: 32,
        dsps: 0,
    },
];

fn sh(dir: &Path, log: &str, prog: &str, args: &[&str]) -> Result<bool> {
    let out = Command::new(prog)
        .current_dir(dir)
        .args(args)
        .output()
        .with_context(|| format!("running {prog} (is it installed?)"))?;
    std::fs::write(dir.join(log), [&out.stdout[..], &out.stderr[..]].concat())?;
    Ok(out.status.success())
}

/// Cells by type from a yosys `stat` text report (the top module's block).
pub fn parse_stat(text: &str) -> BTreeMap<String, u64> {
    let mut cells = BTreeMap::new();
    let mut in_cells = false;
    for line in text.lines() {
        let t = line.trim();
        // old yosys: `Number of cells: N`; new: `N cells` after the wire counts
        if t.starts_with("Number of cells:") || (t.ends_with(" cells") && !t.contains(':')) {
            in_cells = true;
            cells.clear();
            continue;
        }
        if in_cells {
            let mut it = t.split_whitespace();
            match (it.next(), it.next(), it.next()) {
                // yosys up to 0.4x prints `NAME COUNT`, newer ones `COUNT NAME`
                (Some(a), Some(b), None) => match (a.parse::<u64>(), b.parse::<u64>()) {
                    (_, Ok(v)) => {
                        cells.insert(a.to_string(), v);
                    }
                    (Ok(v), Err(_)) => {
                        cells.insert(b.to_string(), v);
                    }
                    _ => in_cells = false,
                },
                _ => in_cells = false,
            }
        }
    }
    cells
}

fn sum(cells: &BTreeMap<String, u64>, pred: impl Fn(&str) -> bool) -> u64 {
    cells.iter().filter(|(k, _)| pred(k)).map(|(_, v)| v).sum()
}

fn ice40_summary(cells: &BTreeMap<String, u64>) -> Value {
    json!({
        "cells": cells,
        "luts": sum(cells, |k| k == "SB_LUT4"),
        "ffs": sum(cells, |k| k.starts_with("SB_DFF")),
        "carry": sum(cells, |k| k == "SB_CARRY"),
        "dsp": sum(cells, |k| k == "SB_MAC16"),
        "bram": sum(cells, |k| k.starts_with("SB_RAM")),
    })
}

fn xilinx_summary(cells: &BTreeMap<String, u64>) -> Value {
    json!({
        "cells": cells,
        "luts": sum(cells, |k| k.starts_with("LUT")),
        "ffs": sum(cells, |k| k.starts_with("FD")),
        "carry": sum(cells, |k| k.starts_with("CARRY")),
        "dsp": sum(cells, |k| k.starts_with("DSP")),
        "bram": sum(cells, |k| k.starts_with("RAMB")),
        "lutram": sum(cells, |k| k.starts_with("RAM") && !k.starts_with("RAMB")),
        "muxf": sum(cells, |k| k.starts_with("MUXF")),
    })
}

fn nextpnr_fmax(report: &Path) -> Option<f64> {
    let v: Value = serde_json::from_str(&std::fs::read_to_string(report).ok()?).ok()?;
    v.get("fmax")?
        .as_object()?
        .values()
        .filter_map(|c| c.get("achieved")?.as_f64())
        .reduce(f64::min)
}

/// Ports of `module` in rust-hdl's Verilog: (is_input, width, name).
fn ports(verilog: &str, module: &str) -> Vec<(bool, usize, String)> {
    let mut out = Vec::new();
    let head = format!("module {module}(");
    let Some(start) = verilog.find(&head) else {
        return out;
    };
    for line in verilog[start..].lines().skip(1) {
        let t = line.trim();
        if t.starts_with("endmodule") || t.starts_with("// Stub") || t.starts_with("always") {
            break;
        }
        let (is_in, rest) = if let Some(r) = t.strip_prefix("input wire") {
            (true, r)
        } else if let Some(r) = t
            .strip_prefix("output reg")
            .or_else(|| t.strip_prefix("output wire"))
        {
            (false, r)
        } else {
            continue;
        };
        let rest = rest.trim().trim_end_matches(';');
        let (width, name) = match rest.strip_prefix('[') {
            Some(r) => {
                let (range, name) = r.split_once(']').unwrap_or(("0:0", r));
                let hi: usize = range
                    .split(':')
                    .next()
                    .and_then(|x| x.trim().parse().ok())
                    .unwrap_or(0);
                (hi + 1, name.trim().to_string())
            }
            None => (1, rest.trim().to_string()),
        };
        out.push((is_in, width, name));
    }
    out
}

/// A harness for measuring a block's Fmax with one pin in and one out: every
/// input bit is the XOR of two distinct bits of a 64-bit LFSR fed by the pin (a register
/// plus one LUT in front of the block), every output is XOR-reduced in groups of
/// 16 into registers (two LUT levels after it), then to the pin.
pub fn fmax_harness(block_verilog: &str, module: &str) -> String {
    let ps = ports(block_verilog, module);
    let win: usize = ps
        .iter()
        .filter(|p| p.0 && p.2 != "clock")
        .map(|p| p.1)
        .sum::<usize>()
        .max(2);
    let wout: usize = ps
        .iter()
        .filter(|p| !p.0)
        .map(|p| p.1)
        .sum::<usize>()
        .max(1);
    let groups = wout.div_ceil(16);
    let mut conns = Vec::new();
    let (mut i, mut o) = (0usize, 0usize);
    for (is_in, w, name) in &ps {
        if name == "clock" {
            conns.push(".clock(clock)".to_string());
        } else if *is_in {
            conns.push(format!(".{name}(x[{}:{}])", i + w - 1, i));
            i += w;
        } else {
            conns.push(format!(".{name}(o[{}:{}])", o + w - 1, o));
            o += w;
        }
    }
    let mut v = String::new();
    v.push_str(block_verilog);
    v.push_str(&format!(
        "\nmodule fmax_harness(input wire clock, input wire din, output reg dout);\n\
         reg [63:0] sin;\n\
         always @(posedge clock) sin <= {{sin[62:0], din ^ sin[63] ^ sin[62] ^ sin[60] ^ sin[59]}};\n\
         wire [{wi}:0] x;\n\
         wire [{wo}:0] o;\n\
         reg [{g}:0] r1;\n\
         integer k;\n\
         genvar j;\n\
         generate for (j = 0; j <= {wi}; j = j + 1) begin : fan assign x[j] = sin[j % 64] ^ sin[(j % 64 + 1 + j / 64) % 64]; end endgenerate\n\
         {module} u({conns});\n\
         always @(posedge clock) begin\n\
           for (k = 0; k < {groups}; k = k + 1) r1[k] <= ^((o >> (16*k)) & 16'hffff);\n\
           dout <= ^r1;\n\
         end\nendmodule\n",
        wi = win - 1,
        wo = wout - 1,
        g = groups - 1,
        conns = conns.join(", "),
    ));
    v
}

fn block_verilog<B: Block>(mut b: B, name: &str) -> String {
    b.connect_all();
    generate_verilog_unchecked(&b).replacen("module top(", &format!("module {name}("), 1)
}

fn block_fmax(dir: &Path, name: &str, verilog: &str) -> Result<Value> {
    let wrapped = fmax_harness(verilog, name);
    let vfile = format!("block_{name}.v");
    std::fs::write(dir.join(&vfile), wrapped)?;
    let json_file = format!("block_{name}_ice40.json");
    let script = format!("read_verilog {vfile}; synth_ice40 -dsp -top fmax_harness -json {json_file}; tee -q -o block_{name}_stat.txt stat");
    let yosys = ecp5::tools()?.yosys();
    if !sh(
        dir,
        &format!("yosys_block_{name}.log"),
        &yosys.to_string_lossy(),
        &["-q", "-p", &script],
    )? {
        return Ok(json!({"error": format!("yosys failed, see yosys_block_{name}.log")}));
    }
    let cells = parse_stat(&std::fs::read_to_string(
        dir.join(format!("block_{name}_stat.txt")),
    )?);
    let report = format!("block_{name}_nextpnr.json");
    let part = ICE40_PARTS[2];
    let ok = sh(
        dir,
        &format!("nextpnr_block_{name}.log"),
        "nextpnr-ice40",
        &[
            part.flag,
            "--package",
            part.package,
            "--json",
            &json_file,
            "--freq",
            "100",
            "--timing-allow-fail",
            "--report",
            &report,
            "--seed",
            "1",
        ],
    )?;
    let fmax = if ok {
        nextpnr_fmax(&dir.join(&report))
    } else {
        None
    };
    Ok(
        json!({"part": part.name, "resources": ice40_summary(&cells), "fmax_mhz": fmax, "placed": ok}),
    )
}

/// What `eti-hdl synth` runs besides the ECP5 flow.
#[derive(Debug, Clone)]
pub struct Options {
    /// nextpnr placer seeds for the ECP5 run (placed in parallel, the best kept).
    pub seeds: Vec<u64>,
    /// yosys `synth_ice40` / `synth_xilinx` cell counts (secondary rows).
    pub secondary: bool,
    /// nextpnr-ice40 Fmax per block in a register harness (needs nextpnr-ice40 on PATH).
    pub blocks: bool,
    /// Stop the other seeds once one reaches this Fmax ([`ecp5::stop_at`]);
    /// `None` waits for every seed.
    pub stop_at: Option<f64>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            seeds: ecp5::SEEDS.to_vec(),
            secondary: true,
            blocks: false,
            stop_at: Some(ecp5::stop_at()),
        }
    }
}

/// Run the flow into `out`; returns (and writes) `out/synth.json`.
///
/// The headline figures (top-level keys) are the ECP5 place and route of the
/// whole gate ([`ecp5::run`]); iCE40 and Xilinx 7 cell counts are secondary rows.
///
/// # Errors
/// If the tools cannot be had, or any synthesis / place and route fails.
pub fn run(out: &Path, opts: &Options) -> Result<Value> {
    std::fs::create_dir_all(out)?;
    let verilog = crate::rtl::verilog::risk_gate_verilog();
    std::fs::write(out.join("risk_gate.v"), &verilog)?;
    let mut report = ecp5::run(out, &opts.seeds, opts.stop_at)?;
    let Some(top) = report.as_object_mut() else {
        bail!("ECP5 report is not an object");
    };
    top.insert("top".into(), json!("risk_gate"));
    top.insert("fmax_baseline_mhz".into(), json!(ecp5::baseline().ok()));
    if opts.secondary {
        let t = ecp5::tools()?;
        let yosys = t.yosys();
        let yosys = yosys.to_string_lossy();
        // iCE40, with the DSP blocks (SB_MAC16) the UltraPlus parts have.
        let ok = sh(out, "yosys_ice40.log", &yosys, &[
            "-p",
            "read_verilog risk_gate.v; synth_ice40 -dsp -top risk_gate; tee -q -o ice40_stat.txt stat",
        ])?;
        if !ok {
            bail!(
                "yosys synth_ice40 failed, see {}",
                out.join("yosys_ice40.log").display()
            );
        }
        let ice40 = ice40_summary(&parse_stat(&std::fs::read_to_string(
            out.join("ice40_stat.txt"),
        )?));
        let ok = sh(out, "yosys_xilinx.log", &yosys, &[
            "-p",
            "read_verilog risk_gate.v; synth_xilinx -flatten -family xc7 -top risk_gate; tee -q -o xilinx_stat.txt stat",
        ])?;
        if !ok {
            bail!(
                "yosys synth_xilinx failed, see {}",
                out.join("yosys_xilinx.log").display()
            );
        }
        let xilinx = xilinx_summary(&parse_stat(&std::fs::read_to_string(
            out.join("xilinx_stat.txt"),
        )?));
        top.insert("ice40_fit".into(), ice40_fit(&ice40));
        top.insert("ice40".into(), ice40);
        top.insert("xilinx_xc7".into(), xilinx);
    }
    if opts.blocks {
        let mut blocks = Map::new();
        blocks.insert(
            "parser".into(),
            block_fmax(out, "parser", &block_verilog(Parser::default(), "parser"))?,
        );
        blocks.insert(
            "symbol".into(),
            block_fmax(
                out,
                "symbol",
                &block_verilog(SymbolLookup::default(), "symbol"),
            )?,
        );
        blocks.insert(
            "checks".into(),
            block_fmax(out, "checks", &block_verilog(Checks::default(), "checks"))?,
        );
        blocks.insert(
            "decision".into(),
            block_fmax(
                out,
                "decision",
                &block_verilog(Decision::default(), "decision"),
            )?,
        );
        blocks.insert(
            "firm".into(),
            block_fmax(out, "firm", &block_verilog(FirmStore::default(), "firm"))?,
        );
        let block_min = blocks
            .values()
            .filter_map(|b| b["fmax_mhz"].as_f64())
            .reduce(f64::min);
        top.insert("blocks_ice40up5k".into(), Value::Object(blocks));
        top.insert("block_fmax_min_mhz".into(), json!(block_min));
    }
    std::fs::write(
        out.join("synth.json"),
        serde_json::to_string_pretty(&report)?,
    )?;
    Ok(report)
}

/// The smallest iCE40 whose logic cells, block RAMs and DSPs cover the design,
/// or why none does.
fn ice40_fit(ice40: &Value) -> Value {
    let luts = ice40["luts"].as_u64().unwrap_or(0);
    let ffs = ice40["ffs"].as_u64().unwrap_or(0);
    let brams = ice40["bram"].as_u64().unwrap_or(0);
    let dsps = ice40["dsp"].as_u64().unwrap_or(0);
    let lcs = luts.max(ffs);
    if let Some(p) = ICE40_PARTS
        .iter()
        .find(|p| p.lcs >= lcs && p.brams >= brams && p.dsps >= dsps)
    {
        return json!({"fits": true, "part": p.name});
    }
    let reasons: Vec<String> = ICE40_PARTS
        .iter()
        .map(|p| {
            let mut why = Vec::new();
            if lcs > p.lcs {
                why.push(format!("{lcs} logic cells > {}", p.lcs));
            }
            if brams > p.brams {
                why.push(format!("{brams} SB_RAM40_4K > {}", p.brams));
            }
            if dsps > p.dsps {
                why.push(format!("{dsps} SB_MAC16 > {}", p.dsps));
            }
            format!("{}: {}", p.name, why.join(", "))
        })
        .collect();
    json!({"fits": false, "reason": reasons})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_yosys_stat() {
        let t = "   Number of cells:              15463\n     SB_CARRY                     2627\n     SB_DFF                       3233\n     SB_DFFE    1542\n     SB_LUT4                      7780\n\n   Chip area: 1\n";
        let c = parse_stat(t);
        assert_eq!(c.get("SB_LUT4"), Some(&7780));
        assert_eq!(ice40_summary(&c)["ffs"], 4775);
        assert_eq!(c.len(), 4);
    }

    #[test]
    fn parses_new_yosys_stat_with_count_first() {
        let t = "=== risk_gate ===\n\n     7903 wires\n    17154 wire bits\n       24 ports\n    10430 cells\n      179   $scopeinfo\n     1349   CCU2C\n        3   DP16KD\n     3769   LUT4\n        6   MULT18X18D\n     4730   TRELLIS_FF\n\n";
        let c = parse_stat(t);
        assert_eq!(c.len(), 6, "{c:?}");
        let s = ecp5::summary(&c);
        assert_eq!(
            (
                s["luts"].as_u64(),
                s["ffs"].as_u64(),
                s["brams"].as_u64(),
                s["dsps"].as_u64()
            ),
            (Some(3769), Some(4730), Some(3), Some(6))
        );
        assert_eq!(s["carry"], 1349);
    }

    #[test]
    fn harness_wires_every_port() {
        let v = block_verilog(Decision::default(), "decision");
        let ps = ports(&v, "decision");
        assert!(ps.iter().any(|p| p.0 && p.2 == "fails" && p.1 == 23));
        assert!(ps.iter().any(|p| !p.0 && p.2 == "rd_group0" && p.1 == 32));
        let h = fmax_harness(&v, "decision");
        for (_, _, name) in &ps {
            assert!(h.contains(&format!(".{name}(")), "{name} not connected");
        }
    }
}

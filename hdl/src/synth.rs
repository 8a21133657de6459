//! Synthesis (being written).
use anyhow::Result;
use std::path::Path;

pub fn run(_out: &Path) -> Result<serde_json::Value> {
    anyhow::bail!("not yet")
}

pub fn write_vectors(_out: &Path, _seed: u64, _orders: u64) -> Result<u64> {
    anyhow::bail!("not yet")
}

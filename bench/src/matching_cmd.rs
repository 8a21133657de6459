//! `eti-bench match [--quick] [--json] [--out DIR]`: see `eti_bench::matching`.

use std::path::PathBuf;

use anyhow::Context;
use clap::Args;
use eti_bench::matching::{self, MatchSizes};

#[derive(Debug, Clone, Args)]
pub struct MatchArgs {
    /// Print the report as JSON on stdout (progress goes to stderr).
    #[arg(long)]
    pub json: bool,
    /// Shorter run (about 10 s).
    #[arg(long)]
    pub quick: bool,
    /// A few thousand commands: checks consistency, says nothing about speed.
    #[arg(long, hide = true)]
    pub tiny: bool,
    /// Do not pin the measuring thread or run it under SCHED_FIFO.
    #[arg(long)]
    pub no_rt: bool,
    /// Also write `match.json` and `match.md` here.
    #[arg(long)]
    pub out: Option<PathBuf>,
}

pub fn run(a: &MatchArgs) -> anyhow::Result<()> {
    let sizes = if a.tiny {
        MatchSizes::tiny()
    } else {
        MatchSizes::new(a.quick)
    };
    let r = matching::run(sizes, !a.no_rt, &|what| eprintln!("match: {what}"))?;
    let json = serde_json::to_string_pretty(&r)?;
    let md = matching::markdown(&r);
    if let Some(dir) = &a.out {
        std::fs::create_dir_all(dir).with_context(|| format!("{}", dir.display()))?;
        std::fs::write(dir.join("match.json"), &json)?;
        std::fs::write(dir.join("match.md"), &md)?;
    }
    if a.json {
        println!("{json}");
    } else {
        println!("{md}");
    }
    Ok(())
}

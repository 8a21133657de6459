//! `eti`: the trading host's command line. Subcommands only dispatch; their
//! bodies live in the library (`eti_host::journal::audit` for `audit`).
//!
//! - `eti audit verify DIR [--public-key FILE]`: check a journal's chain and
//!   seals; exit 0 printing the record count, non-zero naming the first bad
//!   segment and record.
//! - `eti audit export DIR`: the journal as JSON lines on stdout.

use anyhow::Result;
use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Debug, Parser)]
#[command(name = "eti", version, about = "ETI trading host")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Journal audit tools.
    Audit {
        #[command(subcommand)]
        command: AuditCommand,
    },
}

#[derive(Debug, Subcommand)]
enum AuditCommand {
    /// Verify hash chain, CRCs and Ed25519 seals of a journal directory.
    Verify {
        dir: PathBuf,
        /// Public key (hex) the seals must verify under; default DIR/journal.pub,
        /// else the key named in the segment headers.
        #[arg(long)]
        public_key: Option<PathBuf>,
    },
    /// Write every journal record as a JSON line to stdout.
    Export { dir: PathBuf },
}

fn audit(cmd: AuditCommand) -> Result<ExitCode> {
    use eti_host::journal::audit::{export_dir, verify_dir};
    match cmd {
        AuditCommand::Verify { dir, public_key } => match verify_dir(&dir, public_key.as_deref()) {
            Ok(report) => {
                println!("{report}");
                Ok(ExitCode::SUCCESS)
            }
            Err(e) => {
                eprintln!("FAIL {e}");
                Ok(ExitCode::from(1))
            }
        },
        AuditCommand::Export { dir } => {
            let stdout = std::io::stdout();
            let mut out = std::io::BufWriter::new(stdout.lock());
            match export_dir(&dir, &mut out) {
                Ok(_) => Ok(ExitCode::SUCCESS),
                Err(e) => {
                    eprintln!("FAIL {e}");
                    Ok(ExitCode::from(1))
                }
            }
        }
    }
}

fn main() -> Result<ExitCode> {
    let cli = Cli::parse();
    match cli.command {
        Command::Audit { command } => audit(command),
    }
}

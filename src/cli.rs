//! Command-line definitions (clap). `main.rs` dispatches; nothing here does work.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

/// Chaos and load tests for SMTP clusters: flood a cluster while fake remote MTAs
/// misbehave on a timeline, then prove message by message that queues isolated the
/// failure and drained in time.
///
/// Exit codes: 0 every check passed · 1 a check failed · 2 the scenario or the command
/// line is invalid · 3 the run could not be carried out (or was aborted with Ctrl-C).
#[derive(Debug, Parser)]
#[command(name = "mailquake", version, about, long_about)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run a scenario and judge the target: writes the reports into DIR, exits 0/1/2/3.
    Run {
        /// The scenario file (YAML, see scenarios/README.md).
        file: PathBuf,
        /// Output folder (default: reports/<name>-<UTC time>/).
        #[arg(long, value_name = "DIR")]
        out: Option<PathBuf>,
    },
    /// Render every report again from the data a run saved in its folder (scenario.yaml,
    /// ledger.bin): summary.json, junit.xml, report.html, timeseries.csv and the terminal
    /// summary. Exits 0 (rendered), 2 (the folder or its data cannot be read) or 3 (a
    /// report could not be written).
    Report {
        /// The output folder of a run.
        dir: PathBuf,
    },
    /// Parse and check a scenario without running it: exits 0 (valid) or 2 (invalid).
    Validate {
        /// The scenario file.
        file: PathBuf,
    },
}

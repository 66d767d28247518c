//! Command-line definitions (clap). `main.rs` dispatches; nothing here does work.

use std::net::SocketAddr;
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
    /// Run a scenario and judge the target: writes DIR/summary.json, exits 0/1/2/3.
    Run {
        /// The scenario file (YAML, see scenarios/README.md).
        file: PathBuf,
        /// Output folder (default: reports/<name>-<UTC time>/).
        #[arg(long, value_name = "DIR")]
        out: Option<PathBuf>,
    },
    /// Parse and check a scenario without running it: exits 0 (valid) or 2 (invalid).
    Validate {
        /// The scenario file.
        file: PathBuf,
    },
    /// Print the transport map that sends the scenario's test domains to its fake remotes
    /// (for a real MTA under test, e.g. targets/postfix). Remotes need fixed `listen:` ports.
    Routes {
        /// The scenario file.
        file: PathBuf,
        /// Which MTA's map format.
        #[arg(long, value_enum, default_value = "postfix")]
        format: crate::target::routes::RouteFormat,
    },
    /// Serve the scenario's fake remotes standalone, until Ctrl-C: its remotes listen
    /// where the file says, its remote faults run on their timeline from start-up, and a
    /// control API (HTTP, loopback by default) shows counters, streams events and
    /// switches faults live. A run attaches with `remotes: { external: URL }`. Prints
    /// where everything listens; exits 2 (invalid scenario, or a non-loopback API
    /// without a token) or 3 (an address cannot be bound).
    Remotes {
        /// The scenario file; its `remotes` and remote `faults` are served.
        file: PathBuf,
        /// Where the control API listens; anything but loopback needs --token.
        #[arg(long, value_name = "ADDR", default_value = fake_remotes::standalone::DEFAULT_API)]
        api: SocketAddr,
        /// Every API request must carry `Authorization: Bearer TOKEN`.
        #[arg(
            long,
            value_name = "TOKEN",
            env = "MAILQUAKE_REMOTES_TOKEN",
            hide_env_values = true
        )]
        token: Option<String>,
    },
}
